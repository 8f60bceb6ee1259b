package cpu

import (
	"fmt"
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
	c := &adamwConsts{decay: decay, beta1: beta1, omb1: omb1, beta2: beta2, omb2: omb2, bc2sqrt: bc2sqrt, eps: eps, step: step}
	if p.SumSquares != nil {
		// SumSquares's blocks, each summed and then updated while it is
		// in L1: the same partial sums in the same order, so the same bits.
		d, err := b.f32(p.SumSquares)
		if err != nil {
			return fmt.Errorf("cpu: %s: %w", name, err)
		}
		nb := (len(param) + sumSquaresBlock - 1) / sumSquaresBlock
		parts := make([]float64, nb)
		b.par(nb, max(1, elemGrain/4/sumSquaresBlock), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				o, e := i*sumSquaresBlock, min((i+1)*sumSquaresBlock, len(param))
				parts[i] = float64(vecSumSquares(b.simd, grad[o:e]))
				adamwUpdate(b.simd, param[o:e], grad[o:e], m[o:e], v[o:e], c)
			}
		})
		total := float64(d[0])
		for _, s := range parts {
			total += s
		}
		d[0] = float32(total)
		return nil
	}
	b.par(len(param), elemGrain/4, func(lo, hi int) {
		adamwUpdate(b.simd, param[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], c)
	})
	return nil
}

// adamwConsts are the float32 coefficients of one AdamW step, in the order
// the assembly reads them.
type adamwConsts struct {
	decay, beta1, omb1, beta2, omb2, bc2sqrt, eps, step float32
}

// adamwUpdate runs the update on equal-length slices: the assembly on the
// multiple of 8 elements when simd, the pure Go on the rest.
func adamwUpdate(simd bool, p, g, m, v []float32, c *adamwConsts) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	if simd {
		n := len(p) &^ 7
		adamwAVX2(p[:n], g[:n], m[:n], v[:n], c)
		p, g, m, v = p[n:], g[n:], m[n:], v[n:]
	}
	adamwGeneric(p, g, m, v, c)
}

// adamwGeneric is the per-element update (see AdamW), in float32 without
// fused multiply-adds on amd64.
func adamwGeneric(pp, gg, mm, vv []float32, c *adamwConsts) {
	gg, mm, vv = gg[:len(pp)], mm[:len(pp)], vv[:len(pp)]
	for i, g := range gg {
		x := pp[i] * c.decay
		mi := c.beta1*mm[i] + c.omb1*g
		vi := c.beta2*vv[i] + c.omb2*g*g
		mm[i], vv[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/c.bc2sqrt + c.eps
		pp[i] = x - c.step*(mi/denom)
	}
}
