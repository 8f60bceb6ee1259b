package t5

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// memReduce sums the gradients of n in-process replicas: each replica's
// reduce call waits for the others, then all take the sum.
type memReduce struct {
	be   kernels.Backend
	mu   sync.Mutex
	wg   sync.WaitGroup
	done chan struct{}
	sum  []float32
}

func (r *memReduce) fn(params []*Param, sc []float32) error {
	var host []float32
	for _, p := range params {
		h := make([]float32, p.Len())
		if err := r.be.Download(h, p.G); err != nil {
			return err
		}
		host = append(host, h...)
	}
	host = append(host, sc...)
	r.mu.Lock()
	if r.sum == nil {
		r.sum = make([]float32, len(host))
	}
	for i, v := range host {
		r.sum[i] += v
	}
	r.mu.Unlock()
	r.wg.Done()
	r.wg.Wait()
	off := 0
	for _, p := range params {
		if err := r.be.Upload(p.G, r.sum[off:off+p.Len()]); err != nil {
			return err
		}
		off += p.Len()
	}
	copy(sc, r.sum[off:])
	return nil
}

// Two replicas with one micro-batch each (and a third with none) take the
// step one trainer takes on both micro-batches: same loss, gradient norm
// and weights after two steps, up to the order of the float32 sums.
func TestBackwardSharedMatchesOneProcess(t *testing.T) {
	be := openBackend(t, "cpu")
	cfg := TrainConfig{LR: 1e-2, MaxGradNorm: 0.05, WarmupSteps: 1, TotalSteps: 5}
	m0, batch, _ := loadRef(t, be, "tiny-relu")
	if batch.B < 2 {
		t.Fatalf("reference batch of %d rows", batch.B)
	}
	micro := []Batch{batch.Rows(0, 1), batch.Rows(1, batch.B)}
	tr0, err := NewTrainer(m0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr0.Close()
	var want []StepResult
	for range 2 {
		r, err := tr0.Step(micro)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}

	const n = 3
	models := make([]*Model, n)
	trs := make([]*Trainer, n)
	for i := range n {
		models[i], _, _ = loadRef(t, be, "tiny-relu")
		if trs[i], err = NewTrainer(models[i], cfg); err != nil {
			t.Fatal(err)
		}
		defer trs[i].Close()
	}
	for s := range 2 {
		red := &memReduce{be: be}
		red.wg.Add(n)
		res := make([]StepResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []Batch
				if i < len(micro) {
					mine = micro[i : i+1]
				}
				if res[i], errs[i] = trs[i].BackwardShared(mine, red.fn); errs[i] == nil {
					errs[i] = trs[i].Update()
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if d := math.Abs(r.Loss - want[s].Loss); d > 1e-6*math.Abs(want[s].Loss) {
				t.Errorf("step %d replica %d: loss %v, one process %v", s, i, r.Loss, want[s].Loss)
			}
			if d := math.Abs(r.GradNorm - want[s].GradNorm); d > 1e-5*want[s].GradNorm || r.LR != want[s].LR {
				t.Errorf("step %d replica %d: norm %v lr %v, one process %v %v", s, i, r.GradNorm, r.LR, want[s].GradNorm, want[s].LR)
			}
		}
	}
	w0 := kerneltest.Download(t, be, m0.shared.W)
	for i, m := range models {
		w := kerneltest.Download(t, be, m.shared.W)
		var num, den float64
		for j := range w {
			num += float64(w[j]-w0[j]) * float64(w[j]-w0[j])
			den += float64(w0[j]) * float64(w0[j])
		}
		if rel := math.Sqrt(num / den); rel > 1e-6 {
			t.Errorf("replica %d: shared embedding differs from one process by %.2g (relative)", i, rel)
		}
	}
	if _, err := trs[0].BackwardShared(nil, func([]*Param, []float32) error { return nil }); err == nil {
		t.Error("a step without any micro-batch succeeded")
	}
}
