package t5

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// Reparam computes some parameters from others (Intrinsic-SAID:
// θ = θ0 + λ·P(θ_d)). The computed parameters are marked Derived: they get
// gradient buffers, which Backward fills as for any parameter, but Trainer
// neither updates them nor counts them in the gradient norm; Pullback
// turns their gradients into those of the parameters they come from.
type Reparam interface {
	// Project writes the derived parameters' values from their sources.
	Project() error
	// Pullback accumulates the sources' gradients from the derived
	// parameters' gradients.
	Pullback() error
}

// SetReparam installs a reparametrisation (nil removes it); Trainer calls
// its Pullback after the backward passes of a step and its Project after
// the optimizer update.
func (m *Model) SetReparam(r Reparam) { m.reparam = r }

// SetTiedHead makes the LM head of a tied model use w ([vocab, d_model])
// instead of the shared embedding, with no gradient (nil restores the
// tying). It reproduces the official code's Intrinsic-SAID, whose tied
// lm_head keeps the initial embedding θ0 while the input embedding follows
// the intrinsic vector.
func (m *Model) SetTiedHead(w kernels.Buffer) error {
	if w == nil {
		m.tiedHead = nil
		return nil
	}
	if m.lmHead != nil {
		return fmt.Errorf("t5: SetTiedHead on a model with an untied lm_head")
	}
	if w.Len() != m.shared.Len() {
		return fmt.Errorf("t5: tied head of %d elements, want %d: %w", w.Len(), m.shared.Len(), kernels.ErrShape)
	}
	m.tiedHead = &Param{Name: "lm_head.weight", Shape: m.shared.Shape, W: w}
	return nil
}
