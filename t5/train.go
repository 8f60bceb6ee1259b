package t5

import (
	"errors"
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// TrainConfig sets the optimizer (torch.optim.AdamW), the learning-rate
// schedule and gradient clipping of a Trainer.
type TrainConfig struct {
	LR          float64 // peak learning rate
	Beta1       float64 // 0.9 when zero
	Beta2       float64 // 0.999 when zero
	Eps         float64 // 1e-8 when zero
	WeightDecay float64
	// WarmupSteps and TotalSteps give transformers'
	// get_linear_schedule_with_warmup: the LR of optimizer step s (from 0)
	// is LR·s/WarmupSteps during warm-up, then decays linearly to 0 at
	// TotalSteps. TotalSteps = 0 keeps the LR constant after warm-up.
	WarmupSteps, TotalSteps int
	// MaxGradNorm clips the global gradient norm as
	// torch.nn.utils.clip_grad_norm_; 0 disables clipping.
	MaxGradNorm float64
}

// Trainer runs optimizer steps on a model's trainable parameters.
type Trainer struct {
	m    *Model
	cfg  TrainConfig
	step int
	sq   kernels.Buffer
}

// NewTrainer returns a trainer for m.
func NewTrainer(m *Model, cfg TrainConfig) (*Trainer, error) {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if !(cfg.LR >= 0) || cfg.WarmupSteps < 0 || cfg.TotalSteps < 0 || !(cfg.MaxGradNorm >= 0) {
		return nil, fmt.Errorf("t5: invalid train config %+v", cfg)
	}
	sq, err := m.Backend.Alloc(kernels.Float32, 1)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	return &Trainer{m: m, cfg: cfg, sq: sq}, nil
}

// Close frees the trainer's buffers (the optimizer moments stay with the
// parameters).
func (tr *Trainer) Close() error { return tr.m.Backend.Free(tr.sq) }

// Steps is the number of optimizer steps taken.
func (tr *Trainer) Steps() int { return tr.step }

// LR is the learning rate of optimizer step s (counted from 0).
func (tr *Trainer) LR(s int) float64 {
	c := tr.cfg
	if s < c.WarmupSteps {
		return c.LR * float64(s) / float64(max(1, c.WarmupSteps))
	}
	if c.TotalSteps == 0 {
		return c.LR
	}
	return c.LR * max(0, float64(c.TotalSteps-s)/float64(max(1, c.TotalSteps-c.WarmupSteps)))
}

// StepResult reports one optimizer step.
type StepResult struct {
	Loss     float64 // mean of the micro-batch losses
	GradNorm float64 // global gradient norm before clipping
	LR       float64
}

// Step accumulates the gradients of the micro-batches (their mean loss, as
// a Hugging Face Trainer with gradient_accumulation_steps = len(micro)),
// clips the global norm and takes one AdamW step.
func (tr *Trainer) Step(micro []Batch) (StepResult, error) {
	if len(micro) == 0 {
		return StepResult{}, errors.New("t5: Step needs at least one batch")
	}
	m, be := tr.m, tr.m.Backend
	if err := m.ZeroGrad(); err != nil {
		return StepResult{}, err
	}
	var res StepResult
	for _, b := range micro {
		ps, err := m.forward(b, true, false)
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
	if m.reparam != nil {
		if err := m.reparam.Pullback(); err != nil {
			return res, err
		}
	}
	scale := 1 / float64(len(micro))
	norm, err := tr.GradNorm()
	if err != nil {
		return res, err
	}
	norm *= scale
	res.GradNorm = norm
	if c := tr.cfg.MaxGradNorm / (norm + 1e-6); tr.cfg.MaxGradNorm > 0 && c < 1 {
		scale *= c
	}
	res.LR = tr.LR(tr.step)
	tr.step++
	for _, p := range m.Params {
		if p.G == nil || p.Derived {
			continue
		}
		if scale != 1 {
			if err := be.Scale(p.G, float32(scale)); err != nil {
				return res, err
			}
		}
		if p.M == nil {
			if p.M, err = be.Alloc(kernels.Float32, p.Len()); err != nil {
				return res, fmt.Errorf("t5: optimizer state of %s: %w", p.Name, err)
			}
			if p.V, err = be.Alloc(kernels.Float32, p.Len()); err != nil {
				return res, fmt.Errorf("t5: optimizer state of %s: %w", p.Name, err)
			}
		}
		if err := be.AdamW(kernels.AdamWParams{Param: p.W, Grad: p.G, M: p.M, V: p.V,
			LR: float32(res.LR), Beta1: float32(tr.cfg.Beta1), Beta2: float32(tr.cfg.Beta2),
			Eps: float32(tr.cfg.Eps), WeightDecay: float32(tr.cfg.WeightDecay), Step: tr.step}); err != nil {
			return res, err
		}
	}
	if m.reparam != nil {
		if err := m.reparam.Project(); err != nil {
			return res, err
		}
	}
	return res, be.Sync()
}

// GradNorm is the global L2 norm of the gradients of the trainable
// parameters.
func (tr *Trainer) GradNorm() (float64, error) {
	be := tr.m.Backend
	if err := be.Fill(tr.sq, 0); err != nil {
		return 0, err
	}
	for _, p := range tr.m.Params {
		if p.G != nil && !p.Derived {
			if err := be.SumSquares(tr.sq, p.G); err != nil {
				return 0, err
			}
		}
	}
	var s [1]float32
	if err := be.Download(s[:], tr.sq); err != nil {
		return 0, err
	}
	return math.Sqrt(float64(s[0])), nil
}
