package finetune

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

// ErrNonFinite reports a NaN or infinite loss or gradient norm.
var ErrNonFinite = errors.New("finetune: non-finite loss")

// optimizer is t5.Trainer's step (accumulation, clipping, AdamW with
// transformers' linear warm-up and decay) with a step counter that a
// checkpoint can restore: the AdamW bias correction and the schedule
// depend on it, and t5.Trainer keeps it private. It also checks the loss
// and gradient norm before updating.
type optimizer struct {
	m       *t5.Model
	a       *peft.Applied
	h       Hyper
	total   int // steps of the whole run, for the decay
	step    int // optimizer steps taken
	sq      kernels.Buffer
	scratch string // directory for Intrinsic-SAID's re-projection file
}

func newOptimizer(a *peft.Applied, h Hyper, total int, scratch string) (*optimizer, error) {
	sq, err := a.Model.Backend.Alloc(kernels.Float32, 1)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return &optimizer{m: a.Model, a: a, h: h, total: total, sq: sq, scratch: scratch}, nil
}

func (o *optimizer) close() error { return o.m.Backend.Free(o.sq) }

// lr is the learning rate of step s (from 0), as t5.Trainer.LR and
// transformers' get_linear_schedule_with_warmup.
func (o *optimizer) lr(s int) float64 {
	w := o.h.Warmup
	if s < w {
		return o.h.LR * float64(s) / float64(max(1, w))
	}
	return o.h.LR * max(0, float64(o.total-s)/float64(max(1, o.total-w)))
}

// stepResult reports one optimizer step.
type stepResult struct {
	Loss, GradNorm, LR float64
}

// doStep accumulates the micro-batches' gradients, checks the mean loss
// (after hook, for tests) and the gradient norm, clips and updates.
func (o *optimizer) doStep(micro []t5.Batch, hook func(int, float64) float64) (stepResult, error) {
	m, be := o.m, o.m.Backend
	var res stepResult
	if err := m.ZeroGrad(); err != nil {
		return res, err
	}
	for _, b := range micro {
		ps, err := m.Forward(b, true)
		if err != nil {
			return res, err
		}
		err = ps.Backward()
		res.Loss += ps.Loss / float64(len(micro))
		if rerr := ps.Release(); err == nil {
			err = rerr
		}
		if err != nil {
			return res, err
		}
	}
	if hook != nil {
		res.Loss = hook(o.step, res.Loss)
	}
	if err := o.a.Pullback(); err != nil {
		return res, err
	}
	if err := be.Fill(o.sq, 0); err != nil {
		return res, err
	}
	for _, p := range o.a.Trainables {
		if err := be.SumSquares(o.sq, p.G); err != nil {
			return res, err
		}
	}
	var s [1]float32
	if err := be.Download(s[:], o.sq); err != nil {
		return res, err
	}
	scale := 1 / float64(len(micro))
	res.GradNorm = math.Sqrt(float64(s[0])) * scale
	if !finite(res.Loss) || !finite(res.GradNorm) {
		return res, fmt.Errorf("%w at step %d: loss %v, gradient norm %v", ErrNonFinite, o.step+1, res.Loss, res.GradNorm)
	}
	if c := o.h.MaxGradNorm / (res.GradNorm + 1e-6); o.h.MaxGradNorm > 0 && c < 1 {
		scale *= c
	}
	res.LR = o.lr(o.step)
	o.step++
	for _, p := range o.a.Trainables {
		if scale != 1 {
			if err := be.Scale(p.G, float32(scale)); err != nil {
				return res, err
			}
		}
		if err := o.moments(p); err != nil {
			return res, err
		}
		if err := be.AdamW(kernels.AdamWParams{Param: p.W, Grad: p.G, M: p.M, V: p.V,
			LR: float32(res.LR), Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
			WeightDecay: float32(o.h.WeightDecay), Step: o.step}); err != nil {
			return res, err
		}
	}
	if o.a.Config.Method == peft.IntrinsicSAID {
		if err := o.reproject(); err != nil {
			return res, err
		}
	}
	return res, be.Sync()
}

// moments allocates p's AdamW moments (zero) if it has none.
func (o *optimizer) moments(p *t5.Param) error {
	be := o.m.Backend
	var err error
	if p.M == nil {
		if p.M, err = be.Alloc(kernels.Float32, p.Len()); err == nil {
			err = be.Fill(p.M, 0)
		}
	}
	if err == nil && p.V == nil {
		if p.V, err = be.Alloc(kernels.Float32, p.Len()); err == nil {
			err = be.Fill(p.V, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("finetune: optimizer state of %s: %w", p.Name, err)
	}
	return nil
}

// reproject recomputes Intrinsic-SAID's base weights from the updated
// intrinsic vector. peft exposes the projection only through LoadTensors,
// so the (small) trained tensors go through a scratch file.
func (o *optimizer) reproject() error {
	ts, err := download(o.m, o.a.Trainables, func(p *t5.Param) kernels.Buffer { return p.W }, "")
	if err != nil {
		return err
	}
	path := filepath.Join(o.scratch, "said-reproject.safetensors")
	if err := t5.WriteTensors(path, ts, nil); err != nil {
		return err
	}
	defer os.Remove(path)
	return o.a.LoadTensors(path)
}

// download copies the buffers pick(p) of params to host tensors named
// prefix + p.Name (params without the buffer are left out).
func download(m *t5.Model, params []*t5.Param, pick func(*t5.Param) kernels.Buffer, prefix string) (map[string]t5.Tensor, error) {
	ts := map[string]t5.Tensor{}
	for _, p := range params {
		b := pick(p)
		if b == nil {
			continue
		}
		v := make([]float32, p.Len())
		if err := m.Backend.Download(v, b); err != nil {
			return nil, fmt.Errorf("finetune: %s: %w", p.Name, err)
		}
		ts[prefix+p.Name] = t5.Tensor{Shape: slices.Clone(p.Shape), F32: v}
	}
	return ts, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
