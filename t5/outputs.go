package t5

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// Outputs runs one forward pass on batch (and, with grads, the backward
// pass into freshly zeroed gradients) and returns the host tensors a
// comparison with another implementation needs, under the names of the
// reference files: "logits" [B, T, vocab], "encoder_last_hidden_state"
// [B, S, d_model], "loss" [] (when the batch has labels) and, with grads,
// "grad/<name>" for every trainable parameter (after a Reparam's Pullback;
// derived parameters are not listed).
func (m *Model) Outputs(batch Batch, grads bool) (map[string]Tensor, error) {
	if grads {
		if err := m.ZeroGrad(); err != nil {
			return nil, err
		}
	}
	ps, err := m.Forward(batch, grads)
	if err != nil {
		return nil, err
	}
	defer ps.Release()
	if grads {
		if err := ps.Backward(); err != nil {
			return nil, err
		}
		if m.reparam != nil {
			if err := m.reparam.Pullback(); err != nil {
				return nil, err
			}
		}
	}
	out := map[string]Tensor{}
	get := func(name string, shape []int, buf kernels.Buffer) error {
		data := make([]float32, buf.Len())
		if err := m.Backend.Download(data, buf); err != nil {
			return fmt.Errorf("t5: downloading %s: %w", name, err)
		}
		out[name] = Tensor{Shape: shape, F32: data}
		return nil
	}
	if err := get("logits", []int{ps.batch.B, ps.batch.T, m.Config.VocabSize}, ps.Logits); err != nil {
		return nil, err
	}
	if err := get("encoder_last_hidden_state", []int{ps.batch.B, ps.batch.S, m.Config.DModel}, ps.EncoderOut); err != nil {
		return nil, err
	}
	if ps.batch.Labels != nil {
		out["loss"] = Tensor{Shape: []int{}, F32: []float32{float32(ps.Loss)}}
	}
	if grads {
		for _, p := range m.Params {
			if p.G == nil || p.Derived {
				continue
			}
			if err := get("grad/"+p.Name, p.Shape, p.G); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
