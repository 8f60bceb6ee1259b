package t5

import (
	"fmt"
	"strings"

	"github.com/compacter-go/compacter/kernels"
)

// AddBias adds a bias to a linear layer or a block layer norm (BitFit):
// y = x·Wᵀ + b, or y = w·x̂ + b for an RMS norm. weight is the Hugging Face
// name of the weight ("….SelfAttention.q.weight",
// "….DenseReluDense.wo.weight", "….layer_norm.weight" of a block, or
// "lm_head.weight", also when the head is tied to the embedding); the bias
// is the parameter "<…>.bias", zero and trainable. The final layer norms
// and the position biases take none, as in the official code.
func (m *Model) AddBias(weight string) (*Param, error) {
	name := strings.TrimSuffix(weight, ".weight") + ".bias"
	if weight == "lm_head.weight" {
		if m.lmBias != nil {
			return nil, fmt.Errorf("t5: %s already has a bias", weight)
		}
		p, err := m.AddParam(name, m.Config.VocabSize)
		if err != nil {
			return nil, err
		}
		m.lmBias = p
		return p, m.Backend.Fill(p.W, 0)
	}
	w := m.byName[weight]
	ok := w != nil && strings.Contains(weight, ".block.") && !strings.Contains(weight, "relative_attention_bias")
	if !ok || !strings.HasSuffix(weight, ".weight") || w.Bias != nil {
		return nil, fmt.Errorf("t5: %s takes no bias", weight)
	}
	p, err := m.AddParam(name, w.Shape[0])
	if err != nil {
		return nil, err
	}
	w.Bias = p
	return p, m.Backend.Fill(p.W, 0)
}

// RemoveBias removes a bias added by AddBias.
func (m *Model) RemoveBias(weight string) error {
	if weight == "lm_head.weight" {
		if m.lmBias == nil {
			return fmt.Errorf("t5: %s has no bias", weight)
		}
		m.lmBias = nil
	} else {
		w := m.byName[weight]
		if w == nil || w.Bias == nil {
			return fmt.Errorf("t5: %s has no bias", weight)
		}
		w.Bias = nil
	}
	return m.RemoveParam(strings.TrimSuffix(weight, ".weight") + ".bias")
}

// addBias adds the bias of w (if any) to the rows×len(bias) output y.
func addBias(e *errs, be kernels.Backend, w *Param, y kernels.Buffer, rows int) {
	if w == nil || w.Bias == nil || e.err != nil {
		return
	}
	e.do(be.AddBias(y, w.Bias.W, rows, w.Bias.Len()))
}

// biasBackward accumulates the gradient of w's bias (if trainable) from
// the output gradient dy.
func biasBackward(e *errs, be kernels.Backend, w *Param, dy kernels.Buffer, rows int) {
	if w == nil || w.Bias == nil || w.Bias.G == nil || e.err != nil {
		return
	}
	e.do(be.SumRows(w.Bias.G, dy, rows, w.Bias.Len(), 1))
}
