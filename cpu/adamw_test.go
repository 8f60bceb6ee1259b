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
