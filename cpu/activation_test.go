package cpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// actRef is the float64 formula of each activation.
func actRef(f kernels.Activation, x float64) float64 {
	switch f {
	case kernels.ReLU:
		return math.Max(x, 0)
	case kernels.GeLUNew:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	case kernels.GeLU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case kernels.SiLU:
		return x / (1 + math.Exp(-x))
	case kernels.Tanh:
		return math.Tanh(x)
	default:
		return 1 / (1 + math.Exp(-x))
	}
}

// TestActivations checks each forward against its float64 formula and each
// backward against central finite differences of that formula.
func TestActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, b := range opBackends() {
		for f := kernels.ReLU; f <= kernels.Sigmoid; f++ {
			for _, n := range []int{1, 9, 1000, 40000} {
				x, dy := opRandF32(rng, n), opRandF32(rng, n)
				for i := range x {
					x[i] *= 3
					if f == kernels.ReLU && math.Abs(float64(x[i])) < 1e-3 {
						x[i] = 0.5 // keep finite differences away from the kink
					}
				}
				xb, dyb := opUpload(t, b, x, true), opUpload(t, b, dy, true)
				yb := opUpload(t, b, make([]float32, n), false)
				opMustOK(t, b.Act(f, yb, xb))
				ref, dref := make([]float64, n), make([]float64, n)
				const h = 1e-6
				for i, v := range x {
					z := float64(v)
					ref[i] = actRef(f, z)
					dref[i] = float64(dy[i]) * (actRef(f, z+h) - actRef(f, z-h)) / (2 * h)
				}
				opCheckRel(t, b.Name()+" "+f.String(), opDownload(t, b, yb), ref, 1e-6)
				opMustOK(t, b.ActBackward(f, dyb, dyb, xb)) // dx aliases dy
				opCheckRel(t, b.Name()+" "+f.String()+" backward", opDownload(t, b, dyb), dref, 1e-6)
				opMustOK(t, b.Act(f, xb, xb)) // in place
				opCheckRel(t, b.Name()+" "+f.String()+" in place", opDownload(t, b, xb), ref, 1e-6)
			}
		}
	}
}

// TestActKernelsAsmVsGeneric holds the assembly activations to their Go
// twins on awkward lengths, unaligned views and extreme inputs: a few ulp
// apart (relative to |dy| for the backward, whose value can cancel), NaN
// where the twin gives NaN, nothing written outside dst.
func TestActKernelsAsmVsGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 50, -50, 100, -100, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	type pair struct {
		name     string
		asm, gen func(d, dy, x []float32)
		backward bool
	}
	fw := func(f func(d, x []float32)) func(d, dy, x []float32) { return func(d, _, x []float32) { f(d, x) } }
	pairs := []pair{
		{"gelu_new", fw(geluNewAVX2), fw(geluNewGeneric), false},
		{"silu", fw(siluAVX2), fw(siluGeneric), false},
		{"sigmoid", fw(sigmoidAVX2), fw(sigmoidGeneric), false},
		{"gelu_new backward", geluNewBackwardAVX2, geluNewBackwardGeneric, true},
		{"silu backward", siluBackwardAVX2, siluBackwardGeneric, true},
		{"sigmoid backward", sigmoidBackwardAVX2, sigmoidBackwardGeneric, true},
	}
	for _, n := range append(opLens, len(special)) {
		for off := range 2 {
			x, dy := opRandF32(rng, n+off)[off:], opRandF32(rng, n+off)[off:]
			for i := range x {
				x[i] *= 8
			}
			if n == len(special) {
				copy(x, special)
			}
			for _, p := range pairs {
				d1, ok := opGuarded(n, off)
				d2 := make([]float32, n)
				p.asm(d1, dy, x)
				p.gen(d2, dy, x)
				if !ok() {
					t.Fatalf("%s n=%d off=%d: wrote outside dst", p.name, n, off)
				}
				for i := range n {
					a, g := float64(d1[i]), float64(d2[i])
					if g != g || a != a {
						if g == g || a == a {
							t.Fatalf("%s(%v) n=%d: asm %v generic %v", p.name, x[i], n, a, g)
						}
						continue
					}
					// e^z is conditioned by |z|: a rounding of the argument
					// z (|z| ≤ 2u for gelu_new, |x| otherwise) moves it by
					// |z|·2^−24 relative.
					z := math.Abs(float64(x[i]))
					if strings.HasPrefix(p.name, "gelu_new") {
						z = 2 * sqrt2OverPi * (z + geluNewCoef*z*z*z)
					}
					tol := 1e-6*math.Abs(g)*(1+z/4) + 1e-37
					if p.backward {
						tol = 1e-6 * (1 + z/4) * (math.Abs(g) + math.Abs(float64(dy[i])))
					}
					if a != g && !(math.Abs(a-g) <= tol) {
						t.Fatalf("%s(%v) n=%d [%d]: asm %v generic %v", p.name, x[i], n, i, a, g)
					}
				}
			}
		}
	}
}
