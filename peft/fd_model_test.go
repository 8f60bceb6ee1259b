package peft

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

// TestModelFiniteDifferences checks the whole-model gradients of the
// methods whose tensors have no layer-level float64 check — BitFit, prompt
// tuning and Intrinsic-SAID (whose gradient runs back through the Fastfood
// adjoint) — by central differences of the float32 loss. It uses the tiny
// gated-GELU model, whose loss is smooth (no ReLU kinks), with the official
// settings of each method and its trained tensors moved off their initial
// values. Step h = 1e-2: the float32 loss (≈ 5, rounding ≈ 3e-7) then gives
// differences good to ≈ 2e-5, and the O(h²) truncation stays below the
// stated tolerance, while a wrong term, sign or factor misses it by far.
func TestModelFiniteDifferences(t *testing.T) {
	be := openBackend(t, "cpu")
	dir := filepath.Join("..", "testdata", "t5", "tiny-gated")
	batch, err := t5.LoadBatch(filepath.Join(dir, "batch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	for _, meth := range []Method{BitFit, PromptTuning, IntrinsicSAID} {
		t.Run(string(meth), func(t *testing.T) {
			m, err := t5.Load(dir, be)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			c, err := LoadOfficial(filepath.Join(caseDir(meth), "peft.json"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Apply(m, c, 7)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, uint64(len(meth))))
			var tensors []*t5.Param
			for _, p := range a.Trainables {
				if !a.isAdded(p.Name) {
					continue // unfrozen base tensors are covered by t5's checks
				}
				w := kerneltest.Download(t, be, p.W)
				for i := range w {
					w[i] += float32(0.05 * rng.NormFloat64())
				}
				if err := be.Upload(p.W, w); err != nil {
					t.Fatal(err)
				}
				tensors = append(tensors, p)
			}
			if len(tensors) == 0 {
				t.Fatal("method added no trainable tensors")
			}
			project := func() {
				if a.said != nil {
					if err := a.said.Project(); err != nil {
						t.Fatal(err)
					}
				}
			}
			project()
			out, err := m.Outputs(batch, true)
			if err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				project()
				o, err := m.Outputs(batch, false)
				if err != nil {
					t.Fatal(err)
				}
				return float64(o["loss"].F32[0])
			}
			checked, worst := 0, 0.0
			for _, p := range tensors {
				g := out["grad/"+p.Name].F32
				if len(g) != p.Len() {
					t.Fatalf("%s: gradient of %d elements, want %d", p.Name, len(g), p.Len())
				}
				gmax := kerneltest.MaxAbs(g)
				// The entry with the largest gradient and three random ones.
				idx := []int{0}
				for i, v := range g {
					if math.Abs(float64(v)) > math.Abs(float64(g[idx[0]])) {
						idx[0] = i
					}
				}
				for range 3 {
					idx = append(idx, rng.IntN(len(g)))
				}
				w := kerneltest.Download(t, be, p.W)
				for _, i := range idx {
					orig := w[i]
					w[i] = orig + h
					if err := be.Upload(p.W, w); err != nil {
						t.Fatal(err)
					}
					lp := loss()
					w[i] = orig - h
					if err := be.Upload(p.W, w); err != nil {
						t.Fatal(err)
					}
					lm := loss()
					w[i] = orig
					if err := be.Upload(p.W, w); err != nil {
						t.Fatal(err)
					}
					fd := (lp - lm) / (2 * h)
					d := math.Abs(fd - float64(g[i]))
					tol := 2e-3*gmax + 0.02*math.Abs(fd) + 5e-5
					if d > tol {
						t.Errorf("%s[%d]: gradient %g, finite difference %g (|Δ| %g > %g)", p.Name, i, g[i], fd, d, tol)
					}
					if gmax > 1e-6 { // analytically zero gradients (BitFit k.bias) are float32 noise
						worst = max(worst, d/gmax)
					}
					checked++
				}
			}
			project()
			t.Logf("%d entries of %d tensors, worst |Δ|/max|g| = %.2g", checked, len(tensors), worst)
		})
	}
}
