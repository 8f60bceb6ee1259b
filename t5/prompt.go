package t5

import (
	"fmt"
	"slices"

	"github.com/compacter-go/compacter/kernels"
)

// SetPrompt makes the parameter name, of shape [P, d_model], a prompt
// prepended to the encoder input embeddings of every sequence (prompt
// tuning, as the official code's prefix_shared); the encoder and
// cross-attention masks get P leading ones, and the encoder output has
// S+P positions per sequence (Pass.Batch reports the extended batch). An
// empty name removes the prompt.
func (m *Model) SetPrompt(name string) error {
	if name == "" {
		m.prompt = nil
		return nil
	}
	p := m.byName[name]
	if p == nil || len(p.Shape) != 2 || p.Shape[1] != m.Config.DModel {
		return fmt.Errorf("t5: prompt %s must be a parameter of shape [P, %d]", name, m.Config.DModel)
	}
	m.prompt = p
	return nil
}

// withPrompt returns the batch with P prompt positions in front of every
// encoder sequence (token 0, mask 1); their embeddings are replaced by the
// prompt in encode.
func (m *Model) withPrompt(b Batch) Batch {
	if m.prompt == nil {
		return b
	}
	P := m.prompt.Shape[0]
	S := b.S + P
	ids := make([]int32, 0, b.B*S)
	mask := make([]int32, 0, b.B*S)
	for r := 0; r < b.B; r++ {
		ids = append(ids, make([]int32, P)...)
		ids = append(ids, b.InputIDs[r*b.S:(r+1)*b.S]...)
		for range P {
			mask = append(mask, 1)
		}
		if b.AttentionMask == nil {
			for range b.S {
				mask = append(mask, 1)
			}
		} else {
			mask = append(mask, b.AttentionMask[r*b.S:(r+1)*b.S]...)
		}
	}
	b.S, b.InputIDs, b.AttentionMask = S, ids, slices.Clip(mask)
	return b
}

// promptForward writes the prompt over the first P embeddings [B, S, D]
// of every sequence.
func (ps *Pass) promptForward(e *errs, h kernels.Buffer) {
	p := ps.m.prompt
	if p == nil || e.err != nil {
		return
	}
	S, D, P := ps.batch.S, ps.m.Config.DModel, p.Shape[0]
	for r := 0; r < ps.batch.B; r++ {
		e.do(ps.m.Backend.Copy(h.Slice(r*S*D, P*D), p.W))
	}
}

// promptBackward accumulates the prompt's gradient from the gradient of
// the encoder embeddings dh and clears those rows, so that the placeholder
// tokens get no embedding gradient.
func (ps *Pass) promptBackward(e *errs, dh kernels.Buffer) {
	p := ps.m.prompt
	if p == nil || e.err != nil {
		return
	}
	S, D, P := ps.batch.S, ps.m.Config.DModel, p.Shape[0]
	for r := 0; r < ps.batch.B; r++ {
		rows := dh.Slice(r*S*D, P*D)
		if p.G != nil {
			e.do(ps.m.Backend.Binary(kernels.Add, p.G, p.G, rows))
		}
		e.do(ps.m.Backend.Fill(rows, 0))
	}
}
