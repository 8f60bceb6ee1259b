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
	// SeparateUpdate makes Step always run Backward and then Update.
	// Without it, a Step of one micro-batch without clipping (and without a
	// Reparam) updates each parameter as soon as its gradient is complete,
	// during the backward pass, and discards the gradient at once (see
	// kernels.Discarder): the same updates, but the gradients of the whole
	// model never exist together, which for full fine-tuning is one copy of
	// the model less at the peak.
	SeparateUpdate bool
}

// Trainer runs optimizer steps on a model's trainable parameters: those
// with gradient buffers (not frozen) and not Derived.
type Trainer struct {
	m    *Model
	cfg  TrainConfig
	step int
	sq   kernels.Buffer
	// pending is set by Backward and cleared by Update; scale is the
	// factor Update applies to the gradients (the mean over the
	// micro-batches and the clipping).
	pending bool
	scale   float64
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

// Steps is the number of optimizer steps taken (or restored by SetState).
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
// clips the global norm and takes one AdamW step. It is Backward followed
// by Update, or, for one micro-batch without clipping or Reparam (unless
// TrainConfig.SeparateUpdate), the fused form of the two: each block's
// tensors take their AdamW step as soon as the block's backward is done,
// the rest at the end, and every gradient is discarded after its update,
// so the G buffers read as zeros after such a Step. Should the backend fail
// partway through a fused Step, some parameters may have been updated and
// others not, and the step is not counted.
func (tr *Trainer) Step(micro []Batch) (StepResult, error) {
	if len(micro) == 1 && tr.cfg.MaxGradNorm == 0 && tr.m.reparam == nil && !tr.cfg.SeparateUpdate {
		return tr.fusedStep(micro[0])
	}
	res, err := tr.Backward(micro)
	if err != nil {
		return res, err
	}
	return res, tr.Update()
}

// fusedStep is Step of one batch without clipping, with each parameter
// updated as soon as its gradient is complete and the gradient discarded.
func (tr *Trainer) fusedStep(b Batch) (StepResult, error) {
	tr.pending = false
	m, be := tr.m, tr.m.Backend
	chunked := trained(m.shared) && m.chunksEmbedding()
	if chunked {
		// Its gradient comes in chunks: G itself is never written, so
		// it holds no memory.
		if err := kernels.Discard(be, m.shared.G); err != nil {
			return StepResult{}, err
		}
	}
	if err := m.ZeroGrad(); err != nil {
		return StepResult{}, err
	}
	if err := be.Fill(tr.sq, 0); err != nil {
		return StepResult{}, err
	}
	res := StepResult{LR: tr.LR(tr.step)}
	step := tr.step + 1
	done := make(map[*Param]bool, len(m.Params))
	update := func(p *Param) error {
		if !trained(p) || done[p] {
			return nil
		}
		done[p] = true
		// The gradient norm's sum of squares in the update's pass.
		if err := tr.adamWRows(p, 0, p.Len(), p.G, res.LR, step, tr.sq); err != nil {
			return err
		}
		return kernels.Discard(be, p.G)
	}
	if b.DropoutSeed != 0 {
		m.dropSeed, m.dropOffset = b.DropoutSeed, 0
	}
	ps, err := m.forward(b, true, false)
	if err != nil {
		return res, err
	}
	ps.blockDone = func(bp *blockParams) error {
		for _, p := range bp.params() {
			if err := update(p); err != nil {
				return err
			}
		}
		return nil
	}
	if p := m.shared; chunked {
		// The shared embedding's gradient comes a chunk of rows at a
		// time: each takes its AdamW step (the same bits as the whole
		// tensor's, elementwise) and is let go.
		D := m.Config.DModel
		ps.embedChunk = func(v0, v1 int, g kernels.Buffer) error {
			if err := tr.adamWRows(p, v0*D, (v1-v0)*D, g, res.LR, step, tr.sq); err != nil {
				return err
			}
			if v1 == m.Config.VocabSize {
				done[p] = true
			}
			return nil
		}
	}
	err = ps.Backward()
	res.Loss = ps.Loss
	if rerr := ps.Release(); err == nil {
		err = rerr
	}
	for _, p := range m.Params {
		if err != nil {
			break
		}
		err = update(p)
	}
	if err != nil {
		return res, err
	}
	if res.GradNorm, err = tr.sqNorm(); err != nil {
		return res, err
	}
	tr.step = step
	return res, be.Sync()
}

// Backward is the first half of Step: it runs the forward and backward
// passes of the micro-batches, accumulating their gradients (and a
// Reparam's Pullback), and reports their mean loss, the global gradient
// norm and the learning rate of the step, without changing any parameter
// or the step count. The caller may inspect the result (stop on a
// non-finite loss, say) before calling Update, or drop the step by not
// calling it.
func (tr *Trainer) Backward(micro []Batch) (StepResult, error) {
	tr.pending = false
	if len(micro) == 0 {
		return StepResult{}, errors.New("t5: Step needs at least one batch")
	}
	loss, err := tr.accumulate(micro)
	if err != nil {
		return StepResult{}, err
	}
	return tr.finish(loss/float64(len(micro)), len(micro))
}

// accumulate zeroes the gradients, runs the forward and backward passes of
// the micro-batches (and a Reparam's Pullback) and returns the sum of their
// losses.
func (tr *Trainer) accumulate(micro []Batch) (float64, error) {
	m := tr.m
	if err := m.ZeroGrad(); err != nil {
		return 0, err
	}
	var loss float64
	for _, b := range micro {
		if b.DropoutSeed != 0 {
			m.dropSeed, m.dropOffset = b.DropoutSeed, 0
		}
		ps, err := m.forward(b, true, false)
		if err != nil {
			return loss, err
		}
		err = ps.Backward()
		loss += ps.Loss
		if rerr := ps.Release(); err == nil {
			err = rerr
		}
		if err != nil {
			return loss, err
		}
	}
	if m.reparam != nil {
		if err := m.reparam.Pullback(); err != nil {
			return loss, err
		}
	}
	return loss, nil
}

// finish computes the gradient norm and clipping of gradients summed over
// n micro-batches of mean loss loss, and leaves the step pending.
func (tr *Trainer) finish(loss float64, n int) (StepResult, error) {
	res := StepResult{Loss: loss}
	scale := 1 / float64(n)
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
	tr.pending, tr.scale = true, scale
	return res, nil
}

// Update is the second half of Step: it scales the gradients that the
// last Backward left (mean and clipping), takes one AdamW step on every
// trainable parameter, counts it, and re-projects a Reparam's derived
// parameters. Update without a Backward since the last Update (or
// SetState) is an error.
func (tr *Trainer) Update() error {
	if !tr.pending {
		return errors.New("t5: Update without a Backward")
	}
	tr.pending = false
	m, be, scale := tr.m, tr.m.Backend, tr.scale
	lr := tr.LR(tr.step)
	tr.step++
	for _, p := range m.Params {
		if !trained(p) {
			continue
		}
		if scale != 1 {
			if err := be.Scale(p.G, float32(scale)); err != nil {
				return err
			}
		}
		if err := tr.adamW(p, lr, tr.step); err != nil {
			return err
		}
	}
	if m.reparam != nil {
		if err := m.reparam.Project(); err != nil {
			return err
		}
	}
	return be.Sync()
}

// adamW takes optimizer step step (from 1) on p at learning rate lr with
// the gradient in p.G, allocating p's moments on the first.
func (tr *Trainer) adamW(p *Param, lr float64, step int) error {
	return tr.adamWRows(p, 0, p.Len(), p.G, lr, step, nil)
}

// adamWRows is adamW on the n elements of p from off, with their gradient
// in g (the chunks of the shared embedding's gradient in the fused step),
// adding Σ g² to sq[0] when sq is not nil.
func (tr *Trainer) adamWRows(p *Param, off, n int, g kernels.Buffer, lr float64, step int, sq kernels.Buffer) error {
	if err := tr.moments(p); err != nil {
		return err
	}
	if err := tr.m.Backend.AdamW(kernels.AdamWParams{Param: p.W.Slice(off, n), Grad: g, M: p.M.Slice(off, n), V: p.V.Slice(off, n),
		LR: float32(lr), Beta1: float32(tr.cfg.Beta1), Beta2: float32(tr.cfg.Beta2),
		Eps: float32(tr.cfg.Eps), WeightDecay: float32(tr.cfg.WeightDecay), Step: step, SumSquares: sq}); err != nil {
		if n < p.Len() {
			return fmt.Errorf("t5: AdamW step of %s, elements [%d, %d): %w", p.Name, off, off+n, err)
		}
		return fmt.Errorf("t5: AdamW step of %s: %w", p.Name, err)
	}
	return nil
}

// trained reports whether the Trainer updates p.
func trained(p *Param) bool { return p.G != nil && !p.Derived }

// moments allocates p's AdamW moments (zero) if it has none.
func (tr *Trainer) moments(p *Param) error {
	var err error
	if p.M == nil {
		p.M, err = tr.m.Backend.Alloc(kernels.Float32, p.Len())
	}
	if err == nil && p.V == nil {
		p.V, err = tr.m.Backend.Alloc(kernels.Float32, p.Len())
	}
	if err != nil {
		return fmt.Errorf("t5: optimizer state of %s: %w", p.Name, err)
	}
	return nil
}

// Moments are the AdamW moments of one parameter: torch's exp_avg (M) and
// exp_avg_sq (V), of the parameter's length.
type Moments struct {
	M, V []float32
}

// TrainState is what a Trainer needs to resume a run exactly: the number
// of optimizer steps taken (the learning-rate schedule and AdamW's bias
// correction depend on it) and the AdamW moments of the trainable
// parameters by name. The parameters' values themselves are the model's.
type TrainState struct {
	Steps   int
	Moments map[string]Moments
}

// State copies the trainer's state to the host: the step count and the
// moments of every trainable parameter that has been updated.
func (tr *Trainer) State() (TrainState, error) {
	st := TrainState{Steps: tr.step, Moments: map[string]Moments{}}
	be := tr.m.Backend
	for _, p := range tr.m.Params {
		if !trained(p) || p.M == nil || p.V == nil {
			continue
		}
		mo := Moments{M: make([]float32, p.Len()), V: make([]float32, p.Len())}
		if err := errors.Join(be.Download(mo.M, p.M), be.Download(mo.V, p.V)); err != nil {
			return st, fmt.Errorf("t5: optimizer state of %s: %w", p.Name, err)
		}
		st.Moments[p.Name] = mo
	}
	return st, nil
}

// SetState restores a state taken by State (with the parameters' values
// restored separately), so that the next steps are those the saved run
// would have taken. Every entry of st.Moments must name a trainable
// parameter and have its length; trainable parameters without an entry
// get zero moments, as before their first update, which is an error when
// st.Steps > 0 (the run could not continue exactly). A pending Backward
// is dropped.
func (tr *Trainer) SetState(st TrainState) error {
	if st.Steps < 0 {
		return fmt.Errorf("t5: negative step count %d", st.Steps)
	}
	byName := map[string]*Param{}
	for _, p := range tr.m.Params {
		if trained(p) {
			byName[p.Name] = p
		}
	}
	for name, mo := range st.Moments {
		p := byName[name]
		if p == nil {
			return fmt.Errorf("t5: optimizer state of %s, which is not a trainable parameter", name)
		}
		if len(mo.M) != p.Len() || len(mo.V) != p.Len() {
			return fmt.Errorf("t5: optimizer state of %s has %d and %d values, want %d: %w", name, len(mo.M), len(mo.V), p.Len(), kernels.ErrShape)
		}
	}
	if st.Steps > 0 {
		for _, p := range tr.m.Params {
			if _, ok := st.Moments[p.Name]; trained(p) && !ok {
				return fmt.Errorf("t5: no optimizer state of %s after %d steps", p.Name, st.Steps)
			}
		}
	}
	be := tr.m.Backend
	for _, p := range tr.m.Params {
		if !trained(p) {
			continue
		}
		mo, ok := st.Moments[p.Name]
		if !ok && p.M == nil && p.V == nil {
			continue
		}
		if err := tr.moments(p); err != nil {
			return err
		}
		var err error
		if ok {
			err = errors.Join(be.Upload(p.M, mo.M), be.Upload(p.V, mo.V))
		} else {
			err = errors.Join(be.Fill(p.M, 0), be.Fill(p.V, 0))
		}
		if err != nil {
			return fmt.Errorf("t5: optimizer state of %s: %w", p.Name, err)
		}
	}
	tr.step, tr.pending = st.Steps, false
	return nil
}

// GradNorm is the global L2 norm of the gradients of the trainable
// parameters.
func (tr *Trainer) GradNorm() (float64, error) {
	be := tr.m.Backend
	if err := be.Fill(tr.sq, 0); err != nil {
		return 0, err
	}
	for _, p := range tr.m.Params {
		if trained(p) {
			if err := be.SumSquares(tr.sq, p.G); err != nil {
				return 0, err
			}
		}
	}
	return tr.sqNorm()
}

// sqNorm is the square root of the sum of squares in tr.sq.
func (tr *Trainer) sqNorm() (float64, error) {
	var s [1]float32
	if err := tr.m.Backend.Download(s[:], tr.sq); err != nil {
		return 0, err
	}
	return math.Sqrt(float64(s[0])), nil
}
