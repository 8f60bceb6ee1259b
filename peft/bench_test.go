package peft

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

var (
	benchPreset = flag.String("peft.preset", "t5-small", "model shape of BenchmarkTrainStep (t5.Preset name)")
	benchB      = flag.Int("peft.batch", 8, "sequences per step of BenchmarkTrainStep")
	benchS      = flag.Int("peft.len", 128, "encoder and decoder length of BenchmarkTrainStep")
	benchSrc    = flag.Int("peft.source-len", 0, "encoder length of BenchmarkTrainStep (default -peft.len)")
	benchTgt    = flag.Int("peft.target-len", 0, "decoder length of BenchmarkTrainStep (default -peft.len)")
	benchThr    = flag.Int("peft.threads", 0, "GOMAXPROCS of BenchmarkTrainStep (default: the process's)")
	benchShapes = flag.Bool("peft.gemm-shapes", false, "BenchmarkTrainStep logs its products by shape: calls, seconds and GFLOP/s over the timed steps")
)

// BenchmarkTrainStep times one training step (forward, backward, AdamW)
// per method at the paper's settings on a randomly initialised model of
// shape -peft.preset, with a batch of -peft.batch × -peft.len tokens, on
// the cpu backend. It reports the seconds per step, the backend's peak
// bytes over the timed steps (weights, gradients, optimizer state,
// activations) and, when full-finetune ran first in the same process, both
// as Δ% against it (the paper's columns). With -peft.gemm-shapes it also
// writes the step's products by shape (calls, seconds and GFLOP/s per
// step) to standard error, e.g.
//
//	go test ./peft -run XXX -bench 'TrainStep/compacter$' -benchtime 4x \
//	    -peft.preset t5-base -peft.source-len 128 -peft.target-len 16 -peft.gemm-shapes
func BenchmarkTrainStep(b *testing.B) {
	if *benchThr > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*benchThr))
	}
	var fullSec, fullMiB float64
	for _, meth := range Methods {
		b.Run(string(meth), func(b *testing.B) {
			cfg, err := t5.Preset(*benchPreset)
			if err != nil {
				b.Fatal(err)
			}
			cfg.DropoutRate = 0
			// Counting hides the backend's optional interfaces: not for
			// Intrinsic-SAID, whose projection looks for FastfoodBackend.
			be := openBackend(b, *benchBackend)
			counted, fc := countFLOPs(be)
			if meth != IntrinsicSAID {
				be = counted
			}
			m, err := t5.New(cfg, be)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if err := m.InitWeights(1); err != nil {
				b.Fatal(err)
			}
			c, err := Default(meth)
			if err != nil {
				b.Fatal(err)
			}
			if meth == AdapterDrop && cfg.NumLayers < 12 {
				c.TaskAdapterLayersEncoder = c.TaskAdapterLayersEncoder[:0]
				c.TaskAdapterLayersDecoder = c.TaskAdapterLayersDecoder[:0]
				for i := cfg.NumLayers * 5 / 12; i < cfg.NumLayers; i++ {
					c.TaskAdapterLayersEncoder = append(c.TaskAdapterLayersEncoder, i)
					c.TaskAdapterLayersDecoder = append(c.TaskAdapterLayersDecoder, i)
				}
			}
			for c.HypercomplexAdapters && c.Validate(cfg.DModel) != nil && c.PHMDim > 1 {
				c.PHMDim-- // n = 12 does not divide t5-small's bottleneck of 16: the largest n that does
			}
			a, err := Apply(m, c, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Remove()
			B, S, T := *benchB, *benchS, *benchS
			if *benchSrc > 0 {
				S = *benchSrc
			}
			if *benchTgt > 0 {
				T = *benchTgt
			}
			rng := rand.New(rand.NewPCG(3, 4))
			batch := t5.Batch{B: B, S: S, T: T, InputIDs: make([]int32, B*S), Labels: make([]int32, B*T)}
			for i := range max(B*S, B*T) {
				if i < B*S {
					batch.InputIDs[i] = int32(2 + rng.IntN(cfg.VocabSize-2))
				}
				if i < B*T {
					batch.Labels[i] = int32(2 + rng.IntN(cfg.VocabSize-2))
				}
			}
			tr, err := t5.NewTrainer(m, t5.TrainConfig{LR: c.LearningRate})
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			step := func() {
				if _, err := tr.Step([]t5.Batch{batch}); err != nil {
					b.Fatal(err)
				}
			}
			fc.flops.Store(0)
			step() // warm-up: optimizer state; counts the FLOPs of one step
			flops := float64(fc.flops.Load())
			be.ResetPeak()
			if *benchShapes {
				fc.shapes = make(map[gemmShape]*gemmTime)
			}
			t0 := time.Now()
			n := 0
			for b.Loop() {
				step()
				n++
			}
			sec := time.Since(t0).Seconds() / float64(n)
			if fc.shapes != nil {
				fc.logShapes(n)
				fc.shapes = nil
			}
			mib := float64(be.Mem().Peak) / (1 << 20)
			b.ReportMetric(sec, "s/step")
			b.ReportMetric(float64(B*(S+T))/sec, "tok/s")
			if flops > 0 {
				b.ReportMetric(flops/1e9, "GFLOP/step")
				b.ReportMetric(flops/sec/1e9, "GFLOP/s")
			}
			b.ReportMetric(mib, "peak-MiB")
			b.ReportMetric(float64(a.Trainable()), "trainable")
			if meth == FullFinetune {
				fullSec, fullMiB = sec, mib
			} else if fullSec > 0 {
				b.ReportMetric(100*(sec/fullSec-1), "Δtime-%")
				b.ReportMetric(100*(mib/fullMiB-1), "Δmem-%")
			}
		})
	}
}

// flopCounter is a Backend that counts the FLOPs of its matrix products
// (2·M·N·K per product of a batch): the GFLOP/step of BenchmarkTrainStep
// are the GEMMs the step ran, counted as they ran (the adapters' fused
// PHM/LPHM kernels and the elementwise ops are not counted; they are under
// 1 % of a T5 step's arithmetic).
type flopCounter struct {
	kernels.Backend
	flops atomic.Int64
	// shapes, with -peft.gemm-shapes, times the products by shape.
	shapes map[gemmShape]*gemmTime
	mu     sync.Mutex // guards shapes
}

// gemmShape is a product's shape as the per-shape profile groups it.
type gemmShape struct {
	transA, transB bool
	m, n, k, batch int
}

// gemmTime is the calls and wall time of one shape.
type gemmTime struct {
	calls int
	dur   time.Duration
}

// logShapes writes the per-shape profile to standard error (a benchmark's
// log keeps only its first lines), largest time first, over steps steps.
func (f *flopCounter) logShapes(steps int) {
	type row struct {
		s gemmShape
		t *gemmTime
	}
	var rows []row
	var total time.Duration
	for s, t := range f.shapes {
		rows = append(rows, row{s, t})
		total += t.dur
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].t.dur > rows[j].t.dur })
	fmt.Fprintf(os.Stderr, "products per step (%d steps): %.3f s\n", steps, total.Seconds()/float64(steps))
	for _, r := range rows {
		fl := 2 * float64(r.s.m) * float64(r.s.n) * float64(r.s.k) * float64(max(r.s.batch, 1)) * float64(r.t.calls)
		fmt.Fprintf(os.Stderr, "  %5.1f%% %6.3f s  %4d calls/step  %5.0f GFLOP/s  tA=%-5v tB=%-5v M=%d N=%d K=%d batch=%d\n",
			100*r.t.dur.Seconds()/total.Seconds(), r.t.dur.Seconds()/float64(steps), r.t.calls/steps,
			fl/r.t.dur.Seconds()/1e9, r.s.transA, r.s.transB, r.s.m, r.s.n, r.s.k, r.s.batch)
	}
}

// AllocUninit keeps the backend's uninitialised allocations visible
// through the wrapper (the model asks for them by interface).
func (f *flopCounter) AllocUninit(dt kernels.DType, n int) (kernels.Buffer, error) {
	return kernels.AllocUninit(f.Backend, dt, n)
}

// Discard keeps the backend's discarding of gradients (the fused
// optimizer step) visible through the wrapper.
func (f *flopCounter) Discard(x kernels.Buffer) error { return kernels.Discard(f.Backend, x) }

// InPlaceHeads keeps the backend's attention layout visible through the
// wrapper.
func (f *flopCounter) InPlaceHeads() bool { return kernels.HeadsInPlace(f.Backend) }

// countFLOPs wraps be in a flopCounter that keeps be's kernels.SignMasker
// (the frozen FFNs' bit masks) visible too.
func countFLOPs(be kernels.Backend) (kernels.Backend, *flopCounter) {
	fc := &flopCounter{Backend: be}
	if sm, ok := be.(kernels.SignMasker); ok {
		return struct {
			*flopCounter
			kernels.SignMasker
		}{fc, sm}, fc
	}
	return fc, fc
}

func (f *flopCounter) Gemm(p kernels.GemmParams) error {
	f.flops.Add(2 * int64(p.M) * int64(p.N) * int64(p.K) * int64(max(p.Batch, 1)))
	if f.shapes == nil {
		return f.Backend.Gemm(p)
	}
	t0 := time.Now()
	err := f.Backend.Gemm(p)
	s := gemmShape{p.TransA, p.TransB, p.M, p.N, p.K, p.Batch}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.shapes[s]
	if t == nil {
		t = new(gemmTime)
		f.shapes[s] = t
	}
	t.calls++
	t.dur += time.Since(t0)
	return err
}

// BenchmarkAdapterLayer times the forward and backward of one adapter
// sub-layer at the t5-base width (d_model 768, bottleneck 24) on 8×128
// rows, per parametrisation: what the adapter methods add to a step per
// adapted sub-layer.
func BenchmarkAdapterLayer(b *testing.B) {
	for _, meth := range []Method{Adapter, AdapterLowRank, PHMAdapter, Compacter} {
		b.Run(string(meth), func(b *testing.B) {
			cfg := t5.Config{VocabSize: 8, DModel: 768, DKV: 2, DFF: 8, NumLayers: 1, NumDecoderLayers: 1, NumHeads: 2,
				RelativeAttentionNumBuckets: 4, RelativeAttentionMaxDistance: 8, LayerNormEpsilon: 1e-6,
				FeedForwardProj: "relu", TieWordEmbeddings: true, EOSTokenID: 1}
			be := openBackend(b, *benchBackend)
			m, err := t5.New(cfg, be)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			c, _ := Default(meth)
			if _, err := Apply(m, c, 1); err != nil {
				b.Fatal(err)
			}
			const rows = 8 * 128
			h := m.Hook().(*adapterHook)
			site := t5.Site{Block: 0, Layer: 1, Kind: t5.FeedForward}
			y, _ := be.Alloc(kernels.Float32, rows*cfg.DModel)
			dy, _ := be.Alloc(kernels.Float32, rows*cfg.DModel)
			defer be.Free(y)
			defer be.Free(dy)
			be.Fill(y, 0.5)
			for b.Loop() {
				st, err := h.Forward(site, y, rows)
				if err != nil {
					b.Fatal(err)
				}
				be.Fill(dy, 1)
				if err := st.Backward(dy); err != nil {
					b.Fatal(err)
				}
				st.Release()
			}
		})
	}
}
