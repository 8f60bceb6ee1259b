package finetune

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/compacter-go/compacter/t5"
)

// ErrNonFinite reports a NaN or infinite loss or gradient norm.
var ErrNonFinite = errors.New("finetune: non-finite loss")

// newTrainer returns the t5.Trainer of a run of total steps: AdamW with
// transformers' linear warm-up and decay, and gradient clipping.
func newTrainer(m *t5.Model, h Hyper, total int) (*t5.Trainer, error) {
	return t5.NewTrainer(m, t5.TrainConfig{LR: h.LR, WeightDecay: h.WeightDecay,
		WarmupSteps: h.Warmup, TotalSteps: total, MaxGradNorm: h.MaxGradNorm})
}

// step takes one optimizer step on the micro-batches, unless the mean loss
// (after hook, for tests) or the gradient norm is not finite: then it
// returns ErrNonFinite and leaves the parameters and the optimizer state
// as they were.
func step(tr *t5.Trainer, micro []t5.Batch, hook func(int, float64) float64) (t5.StepResult, error) {
	res, err := tr.Backward(micro)
	if err != nil {
		return res, err
	}
	if hook != nil {
		res.Loss = hook(tr.Steps(), res.Loss)
	}
	if !finite(res.Loss) || !finite(res.GradNorm) {
		return res, fmt.Errorf("%w at step %d: loss %v, gradient norm %v", ErrNonFinite, tr.Steps()+1, res.Loss, res.GradNorm)
	}
	return res, tr.Update()
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// step is the data-parallel step of one rank: Backward on its micro-batches
// with the gradients, losses and stop requests (ctx cancelled on this
// rank) summed across the ranks, then the same finiteness check and Update
// on every rank.
func (r *ranks) step(ctx context.Context, tr *t5.Trainer, micro []t5.Batch, hook func(int, float64) float64, anyStop *bool) (t5.StepResult, error) {
	res, err := tr.BackwardShared(micro, r.reduceFunc(ctx, ctx.Err() != nil, anyStop))
	if err != nil {
		return res, err
	}
	if hook != nil {
		res.Loss = hook(tr.Steps(), res.Loss)
	}
	if !finite(res.Loss) || !finite(res.GradNorm) {
		return res, fmt.Errorf("%w at step %d: loss %v, gradient norm %v", ErrNonFinite, tr.Steps()+1, res.Loss, res.GradNorm)
	}
	return res, tr.Update()
}
