package t5

import (
	"fmt"
	"math"
	"strings"
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

// withCrossReassoc runs f with the cross-attention path forced: mode 1
// reassociates every cross-attention sub-layer, −1 none (see crossReassoc).
func withCrossReassoc(mode int, f func()) {
	old := crossReassoc
	crossReassoc = mode
	defer func() { crossReassoc = old }()
	f()
}

// TestCrossReassocAgrees holds the reassociated cross-attention
// (crossattn.go) to the direct in-place path: same loss and gradients on
// both reference models, dropout on and off, with every parameter trained
// (the per-head weight gradients of W_k and W_v) and with W_k, W_v and
// the encoder's other weights frozen except one norm (the input gradient
// into the encoder output alone). It also checks that the path ran (no k,
// v activations) and that the cost rule picks it at t5-base's GLUE shape
// and not at 128/128. Tolerance: max|Δ| ≤ 1e-5·max|grad|, loss 1e-6
// relative.
func TestCrossReassocAgrees(t *testing.T) {
	for _, c := range refCases {
		for _, drop := range []bool{false, true} {
			for _, frozenKV := range []bool{false, true} {
				name := fmt.Sprintf("%s/dropout=%v/frozen-kv=%v", c, drop, frozenKV)
				t.Run(name, func(t *testing.T) {
					run := func(mode int) (*Model, float64) {
						m, batch, _ := loadRef(t, openBackend(t, "cpu"), c)
						if frozenKV {
							err := m.Freeze(func(n string) bool {
								return strings.HasPrefix(n, "encoder.") && !strings.HasSuffix(n, "final_layer_norm.weight") ||
									strings.Contains(n, "EncDecAttention.k.") || strings.Contains(n, "EncDecAttention.v.")
							}, true)
							if err != nil {
								t.Fatal(err)
							}
						}
						if drop {
							m.Config.DropoutRate = 0.25
							m.SetTraining(true, 11)
						}
						var loss float64
						withCrossReassoc(mode, func() {
							ps, err := m.Forward(batch, true)
							if err != nil {
								t.Fatal(err)
							}
							for _, a := range ps.crossAttn {
								if a.reassoc != (mode > 0) || (a.k == nil) != (mode > 0) {
									t.Fatalf("mode %d: cross-attention reassoc=%v, k kept=%v", mode, a.reassoc, a.k != nil)
								}
							}
							if err := ps.Release(); err != nil {
								t.Fatal(err)
							}
							loss = gradients(t, m, batch)
						})
						return m, loss
					}
					mRe, lossRe := run(1)
					mDir, lossDir := run(-1)
					if d := math.Abs(lossRe - lossDir); d > 1e-6*math.Abs(lossDir) {
						t.Errorf("loss reassociated %v, direct %v", lossRe, lossDir)
					}
					checked := 0
					for i, p := range mRe.Params {
						if p.G == nil {
							continue
						}
						want := kerneltest.Download(t, mDir.Backend, mDir.Params[i].G)
						ref := kerneltest.MaxAbs(want)
						kerneltest.CloseTo(t, p.Name, kerneltest.Download(t, mRe.Backend, p.G), want, 1e-5*ref+1e-9, 0)
						checked++
					}
					if checked == 0 {
						t.Fatal("no trainable parameter")
					}
				})
			}
		}
	}
	t.Run("cost", func(t *testing.T) {
		m, _, _ := loadRef(t, openBackend(t, "cpu"), refCases[0])
		base := m.Config
		base.DModel, base.DKV, base.NumHeads = 768, 64, 12
		ps := &Pass{m: &Model{Config: base, Backend: m.Backend}, batch: Batch{B: 8}}
		w := &attnParams{q: &Param{}, k: &Param{}, v: &Param{}}
		masks := []kernels.AdditiveMask{{StrideBatch: 128}}
		if !ps.reassociates(w, 16, 128, masks) {
			t.Error("t5-base 128 sources, 16 targets: direct path")
		}
		if ps.reassociates(w, 128, 128, masks) {
			t.Error("t5-base 128/128: reassociated")
		}
		w.k.Bias = &Param{}
		if ps.reassociates(w, 16, 128, masks) {
			t.Error("keys with a bias: reassociated")
		}
	})
}
