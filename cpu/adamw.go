package cpu

import (
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// AdamW takes one torch.optim.AdamW step in place, elements in parallel.
// The scalar coefficients (1 − lr·wd, 1 − β, the bias corrections and the
// step size) are computed in float64 and rounded to float32, as PyTorch
// does with its Python-float hyper-parameters; the per-element update is in
// float32 in PyTorch's order:
//
//	p *= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g·g
//	p −= step·m / (√v / √(1−β2^t) + eps),  step = lr/(1−β1^t)
func (b *Backend) AdamW(p kernels.AdamWParams) error {
	const name = "adamw"
	if err := p.Validate(); err != nil {
		return err
	}
	s, err := b.f32s(name, p.Param, p.Grad, p.M, p.V)
	if err != nil {
		return err
	}
	param, grad, m, v := s[0], s[1], s[2], s[3]
	lr, b1, b2 := float64(p.LR), float64(p.Beta1), float64(p.Beta2)
	decay := float32(1 - lr*float64(p.WeightDecay))
	beta1, beta2 := p.Beta1, p.Beta2
	omb1, omb2 := float32(1-b1), float32(1-b2)
	t := float64(p.Step)
	step := float32(lr / (1 - math.Pow(b1, t)))
	bc2sqrt := float32(math.Sqrt(1 - math.Pow(b2, t)))
	eps := p.Eps
	b.par(len(param), elemGrain/4, func(lo, hi int) {
		pp, gg, mm, vv := param[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi]
		for i, g := range gg {
			x := pp[i] * decay
			mi := beta1*mm[i] + omb1*g
			vi := beta2*vv[i] + omb2*g*g
			mm[i], vv[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))/bc2sqrt + eps
			pp[i] = x - step*(mi/denom)
		}
	})
	return nil
}
