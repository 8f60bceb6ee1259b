package t5

import (
	"math"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// TestAttentionPathsAgree holds the two attention paths to the same loss
// and gradients, dropout on and off: the in-place one (one head at a time,
// probabilities recomputed by the backward, dropout applied head by head)
// and the permuted one, which keeps the [B, H, tq, tk] probabilities and
// drops them out at once. Both reference models; the position biases and
// every other parameter trainable. Tolerance: max|Δ| ≤ 1e-5·max|grad|.
func TestAttentionPathsAgree(t *testing.T) {
	for _, c := range refCases {
		for _, drop := range []bool{false, true} {
			name := c + "/dropout-off"
			if drop {
				name = c + "/dropout-on"
			}
			t.Run(name, func(t *testing.T) {
				run := func(be kernels.Backend) (*Model, float64) {
					m, batch, _ := loadRef(t, be, c)
					if drop {
						m.Config.DropoutRate = 0.25
						m.SetTraining(true, 11)
					}
					return m, gradients(t, m, batch)
				}
				be := openBackend(t, "cpu")
				mIn, lossIn := run(be)
				if !kernels.HeadsInPlace(be) {
					t.Fatal("the cpu backend does not read heads in place")
				}
				mPerm, lossPerm := run(permutedHeads{openBackend(t, "cpu")})
				if d := math.Abs(lossIn - lossPerm); d > 1e-6*math.Abs(lossPerm) {
					t.Errorf("loss in place %v, permuted %v", lossIn, lossPerm)
				}
				for i, p := range mIn.Params {
					want := kerneltest.Download(t, mPerm.Backend, mPerm.Params[i].G)
					ref := kerneltest.MaxAbs(want)
					kerneltest.CloseTo(t, p.Name, kerneltest.Download(t, mIn.Backend, p.G), want, 1e-5*ref+1e-9, 0)
				}
			})
		}
	}
}
