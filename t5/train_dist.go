package t5

import (
	"errors"
	"fmt"
)

// Gradients returns the gradient buffers of the parameters the Trainer
// updates (not frozen, not Derived), in the model's parameter order, the
// same on every replica of a model: what data-parallel training sums
// across replicas.
func (tr *Trainer) Gradients() []*Param {
	var ps []*Param
	for _, p := range tr.m.Params {
		if trained(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// ReduceFunc sums, in place and across the replicas of data-parallel
// training, the gradients of params (Gradients: each p.G) and the host
// values scalars (scalars[0]: the replica's sum of micro-batch losses;
// scalars[1]: its number of micro-batches). On return every replica must
// hold the same sums.
type ReduceFunc func(params []*Param, scalars []float32) error

// BackwardShared is Backward for one replica of data-parallel training:
// micro is this replica's share of the step's micro-batches (possibly
// none). It accumulates their gradients, calls reduce to sum gradients
// and losses over the replicas, and then, as Backward does for all the
// micro-batches in one process, reports their mean loss and the global
// gradient norm of the mean gradient and leaves the step pending for
// Update (same scaling and clipping). With identical parameters and
// micro-batches split among the replicas, every replica takes the step one
// process would take on all of them, up to the order of the sums.
func (tr *Trainer) BackwardShared(micro []Batch, reduce ReduceFunc) (StepResult, error) {
	tr.pending = false
	if reduce == nil {
		return StepResult{}, errors.New("t5: BackwardShared needs a reduce function")
	}
	var loss float64
	var err error
	if len(micro) > 0 {
		loss, err = tr.accumulate(micro)
	} else {
		err = tr.m.ZeroGrad()
	}
	if err != nil {
		return StepResult{}, err
	}
	sc := []float32{float32(loss), float32(len(micro))}
	if err := reduce(tr.Gradients(), sc); err != nil {
		return StepResult{}, fmt.Errorf("t5: summing gradients across replicas: %w", err)
	}
	n := int(sc[1] + 0.5)
	if n <= 0 {
		return StepResult{}, errors.New("t5: no replica had a micro-batch for this step")
	}
	return tr.finish(float64(sc[0])/float64(n), n)
}

// Rows is the batch of rows [lo, hi) of b, sharing its slices: a rank's
// share of a batch in data-parallel training. It panics, like a slice
// expression, when the range is out of bounds.
func (b Batch) Rows(lo, hi int) Batch {
	out := Batch{B: hi - lo, S: b.S, T: b.T, DropoutSeed: b.DropoutSeed}
	cut := func(v []int32, w int) []int32 {
		if v == nil {
			return nil
		}
		return v[lo*w : hi*w]
	}
	out.InputIDs, out.AttentionMask = cut(b.InputIDs, b.S), cut(b.AttentionMask, b.S)
	out.DecoderInputIDs, out.Labels = cut(b.DecoderInputIDs, b.T), cut(b.Labels, b.T)
	return out
}
