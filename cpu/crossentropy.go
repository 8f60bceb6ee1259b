package cpu

import (
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// CrossEntropy computes Loss[r] = logsumexp(Logits[r]) − Logits[r, label]
// with the max subtracted first, and when DLogits is not nil overwrites it
// with (softmax − onehot)·GradScale (zeros on ignored rows), rows in
// parallel. The labels are checked before anything is written. DLogits may
// alias Logits: each row is read completely before it is written.
func (b *Backend) CrossEntropy(p kernels.CrossEntropyParams) error {
	const name = "cross-entropy"
	if err := p.Validate(); err != nil {
		return err
	}
	labels, err := b.i32(p.Labels)
	if err != nil {
		return opErr(name, err)
	}
	if err := p.CheckLabels(labels); err != nil {
		return err
	}
	s, err := b.f32s(name, p.Logits, p.Loss, p.DLogits)
	if err != nil {
		return err
	}
	logits, loss, dl := s[0], s[1], s[2]
	v := p.Vocab
	b.par(p.Rows, max(1, elemGrain/v/4), func(lo, hi int) {
		var tmp []float32
		if dl == nil {
			tmp = make([]float32, v)
		}
		for r := lo; r < hi; r++ {
			lr := logits[r*v : (r+1)*v]
			out := tmp
			if dl != nil {
				out = dl[r*v : (r+1)*v]
			}
			if labels[r] == p.IgnoreIndex {
				loss[r] = 0
				if dl != nil {
					clear(out)
				}
				continue
			}
			target := lr[labels[r]]
			m := vecMax(b.simd, lr)
			copy(out, lr) // a no-op when DLogits aliases Logits
			sum := float64(expShift(b.simd, out, m))
			loss[r] = float32(float64(m) + math.Log(sum) - float64(target))
			if dl != nil {
				vecScaleTo(b.simd, out, out, float32(float64(p.GradScale)/sum))
				out[labels[r]] -= p.GradScale
			}
		}
	})
	return nil
}
