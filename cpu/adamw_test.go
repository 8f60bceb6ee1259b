package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// TestAdamW runs five steps against a float64 transcription of
// torch.optim.AdamW.
func TestAdamW(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, be := range opBackends() {
		for _, n := range []int{1, 17, 50000} {
			param := opRandF32(rng, n)
			p64, m64, v64 := opTo64(param), make([]float64, n), make([]float64, n)
			p := kernels.AdamWParams{Param: opUpload(t, be, param, true), Grad: opUpload(t, be, make([]float32, n), true),
				M: opUpload(t, be, make([]float32, n), true), V: opUpload(t, be, make([]float32, n), true),
				LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
			lr, b1, b2, eps, wd := float64(p.LR), float64(p.Beta1), float64(p.Beta2), float64(p.Eps), float64(p.WeightDecay)
			for step := 1; step <= 5; step++ {
				g := opRandF32(rng, n)
				opMustOK(t, be.Upload(p.Grad, g))
				p.Step = step
				opMustOK(t, be.AdamW(p))
				bc1 := 1 - math.Pow(b1, float64(step))
				bc2 := 1 - math.Pow(b2, float64(step))
				for i := range n {
					gi := float64(g[i])
					p64[i] *= 1 - lr*wd
					m64[i] = b1*m64[i] + (1-b1)*gi
					v64[i] = b2*v64[i] + (1-b2)*gi*gi
					p64[i] -= lr / bc1 * m64[i] / (math.Sqrt(v64[i])/math.Sqrt(bc2) + eps)
				}
			}
			opCheckRel(t, be.Name()+" adamw param", opDownload(t, be, p.Param), p64, 1e-6)
			opCheckRel(t, be.Name()+" adamw m", opDownload(t, be, p.M), m64, 1e-6)
			opCheckRel(t, be.Name()+" adamw v", opDownload(t, be, p.V), v64, 1e-6)
		}
	}
}

// TestAdamWSimdMatchesGeneric holds the AVX2 update to the pure-Go one bit
// for bit over several steps (tails of every length below 8 included), with
// gradients over many magnitudes and exact zeros.
func TestAdamWSimdMatchesGeneric(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2 on this CPU")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 7, 8, 9, 63, 1000, 4099} {
		var ps, gs, ms, vs [2][]float32
		for k := range 2 {
			ps[k], gs[k], ms[k], vs[k] = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		}
		for i := 0; i < n; i++ {
			ps[0][i] = float32(rng.NormFloat64())
		}
		copy(ps[1], ps[0])
		for step := 1; step <= 4; step++ {
			for i := 0; i < n; i++ {
				g := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-8)))
				if rng.IntN(10) == 0 {
					g = 0
				}
				gs[0][i], gs[1][i] = g, g
			}
			b1, b2, lr := 0.9, 0.999, 3e-4
			c := &adamwConsts{decay: float32(1 - lr*0.01), beta1: float32(b1), omb1: float32(1 - b1), beta2: float32(b2), omb2: float32(1 - b2),
				bc2sqrt: float32(math.Sqrt(1 - math.Pow(b2, float64(step)))), eps: 1e-8, step: float32(lr / (1 - math.Pow(b1, float64(step))))}
			adamwUpdate(true, ps[0], gs[0], ms[0], vs[0], c)
			adamwGeneric(ps[1], gs[1], ms[1], vs[1], c)
			for i := 0; i < n; i++ {
				if !same(ps[0][i], ps[1][i]) || !same(ms[0][i], ms[1][i]) || !same(vs[0][i], vs[1][i]) {
					t.Fatalf("n=%d step %d element %d: simd p,m,v = %v,%v,%v; generic %v,%v,%v", n, step, i,
						ps[0][i], ms[0][i], vs[0][i], ps[1][i], ms[1][i], vs[1][i])
				}
			}
		}
	}
}
