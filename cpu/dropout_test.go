package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// TestDropout checks the mask against kernels.DropoutKeep, the scaling, p = 0
// and dst aliasing src.
func TestDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, be := range opBackends() {
		for _, n := range []int{0, 1, 100, 70001} {
			for _, p := range []float32{0, 0.1, 0.5} {
				x := opRandF32(rng, n)
				const seed, off = 42, 1000
				xb := opUpload(t, be, x, true)
				opMustOK(t, be.Dropout(xb, xb, p, seed, off))
				got := opDownload(t, be, xb)
				kept := 0
				for i, v := range x {
					want := float32(0)
					if kernels.DropoutKeep(seed, off+uint64(i), p) {
						want = v * float32(1/(1-float64(p)))
						kept++
					}
					if d := got[i] - want; d > 1e-6*abs32(want) || d < -1e-6*abs32(want) {
						t.Fatalf("%s p=%v [%d] = %v, want %v", be.Name(), p, i, got[i], want)
					}
				}
				if n > 10000 {
					if frac := float64(kept) / float64(n); frac < float64(1-p)-0.01 || frac > float64(1-p)+0.01 {
						t.Errorf("%s p=%v kept %.3f", be.Name(), p, frac)
					}
				}
			}
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
