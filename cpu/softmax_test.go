package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// softmaxRef is the masked, optionally causal softmax in float64.
func softmaxRef(x []float64, bt, hd, rows, cols int, masks []kernels.AdditiveMask, mv [][]float32, causal bool) []float64 {
	y := make([]float64, len(x))
	for i := range bt * hd * rows {
		r, h, b := i%rows, (i/rows)%hd, i/(rows*hd)
		s := make([]float64, cols)
		m := math.Inf(-1)
		for c := range cols {
			s[c] = x[i*cols+c]
			for k, mk := range masks {
				s[c] += float64(mv[k][b*mk.StrideBatch+h*mk.StrideHead+r*mk.StrideRow+c])
			}
			if causal && c > r+cols-rows {
				s[c] = math.Inf(-1)
			}
			m = math.Max(m, s[c])
		}
		if math.IsInf(m, -1) {
			continue
		}
		var sum float64
		for c := range cols {
			s[c] = math.Exp(s[c] - m)
			sum += s[c]
		}
		for c := range cols {
			y[i*cols+c] = s[c] / sum
		}
	}
	return y
}

func TestSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	type shape struct{ b, h, r, c int }
	for _, be := range opBackends() {
		for _, sh := range []shape{{1, 1, 1, 1}, {2, 3, 5, 7}, {2, 2, 4, 33}, {1, 2, 16, 16}, {2, 4, 8, 300}} {
			for _, causal := range []bool{false, true} {
				for _, alias := range []bool{false, true} {
					n := sh.b * sh.h * sh.r * sh.c
					x := opRandF32(rng, n)
					for i := range x {
						x[i] *= 4
					}
					// A padding mask [B, C] with −∞ and a position bias [H, R, C].
					pad := make([]float32, sh.b*sh.c)
					for i := range pad {
						if rng.IntN(4) == 0 {
							pad[i] = float32(math.Inf(-1))
						}
					}
					pad[len(pad)-1] = -1e9
					bias := opRandF32(rng, sh.h*sh.r*sh.c)
					masks := []kernels.AdditiveMask{
						{M: opUpload(t, be, pad, true), StrideBatch: sh.c},
						{M: opUpload(t, be, bias, false), StrideHead: sh.r * sh.c, StrideRow: sh.c},
					}
					xb := opUpload(t, be, x, true)
					yb := xb
					if !alias {
						yb = opUpload(t, be, make([]float32, n), false)
					}
					p := kernels.SoftmaxParams{X: xb, Y: yb, Batch: sh.b, Heads: sh.h, Rows: sh.r, Cols: sh.c, Masks: masks, Causal: causal}
					opMustOK(t, be.Softmax(p))
					ref := softmaxRef(opTo64(x), sh.b, sh.h, sh.r, sh.c, masks, [][]float32{pad, bias}, causal)
					got := opDownload(t, be, yb)
					what := fmt.Sprintf("%s softmax %v causal=%v", be.Name(), sh, causal)
					opCheckRel(t, what, got, ref, 1e-6)
					for i, r := range ref {
						if r == 0 && got[i] != 0 {
							t.Fatalf("%s: excluded [%d] = %v", what, i, got[i])
						}
					}
				}
			}
		}
	}
}

// TestSoftmaxBackward checks dx against finite differences of L = Σ g·y.
func TestSoftmaxBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, be := range opBackends() {
		for _, sh := range [][2]int{{1, 1}, {3, 7}, {4, 40}, {2, 129}} {
			rows, cols := sh[0], sh[1]
			x, g := opRandF32(rng, rows*cols), opRandF32(rng, rows*cols)
			x64 := opTo64(x)
			y := softmaxRef(x64, 1, 1, rows, cols, nil, nil, false)
			y32 := make([]float32, len(y))
			for i, v := range y {
				y32[i] = float32(v)
			}
			gb := opUpload(t, be, g, true)
			opMustOK(t, be.SoftmaxBackward(gb, gb, opUpload(t, be, y32, true), rows, cols))
			ref := make([]float64, rows*cols)
			const h = 1e-6
			for i := range x64 {
				r := i / cols
				lossRow := func() float64 {
					yr := softmaxRef(x64[r*cols:(r+1)*cols], 1, 1, 1, cols, nil, nil, false)
					var l float64
					for c, v := range yr {
						l += float64(g[r*cols+c]) * v
					}
					return l
				}
				v := x64[i]
				x64[i] = v + h
				lp := lossRow()
				x64[i] = v - h
				ref[i] = (lp - lossRow()) / (2 * h)
				x64[i] = v
			}
			opCheckRel(t, fmt.Sprintf("%s softmax backward %v", be.Name(), sh), opDownload(t, be, gb), ref, 1e-5)
		}
	}
}

// TestExpNonPos checks the float32 exponential against math.Exp.
func TestExpNonPos(t *testing.T) {
	for x := float32(-90); x <= 0; x += 0.001 {
		want := math.Exp(float64(x))
		got := float64(expNonPos(x))
		if want < 1.2e-38 {
			if got > 1.2e-38 {
				t.Fatalf("exp(%v) = %v, want ≈ %v", x, got, want)
			}
			continue
		}
		if math.Abs(got-want) > 2.5e-7*want {
			t.Fatalf("exp(%v) = %v, want %v (rel %g)", x, got, want, math.Abs(got-want)/want)
		}
	}
	if v := expNonPos(float32(math.Inf(-1))); v != 0 {
		t.Errorf("exp(−∞) = %v", v)
	}
	if v := expNonPos(float32(math.NaN())); v == v {
		t.Errorf("exp(NaN) = %v", v)
	}
}

// TestExpShiftAsmVsGeneric checks the assembly exponential (with its masked
// tail) against the pure-Go twin: 2 ulp per element, −∞ exactly 0, NaN
// kept, nothing written past the end.
func TestExpShiftAsmVsGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range opLens {
		for off := range 2 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(-rng.Float64() * 100)
			}
			if n > 5 {
				x[2], x[4] = float32(math.Inf(-1)), float32(math.NaN())
			}
			y1, ok := opGuarded(n, off)
			copy(y1, x)
			y2 := append([]float32(nil), x...)
			s1, s2 := expShiftAVX2(y1, 0.5), expShiftGeneric(y2, 0.5)
			if !ok() {
				t.Fatalf("n=%d: wrote outside y", n)
			}
			var ref float64
			for i := range n {
				a, g := float64(y1[i]), float64(y2[i])
				if g != g {
					if a == a {
						t.Fatalf("n=%d [%d] = %v, want NaN", n, i, a)
					}
					continue
				}
				ref += g
				if math.Abs(a-g) > 2.5e-7*g {
					t.Fatalf("n=%d [%d] = %v, want %v", n, i, a, g)
				}
				if x[i] == float32(math.Inf(-1)) && a != 0 {
					t.Fatalf("n=%d: e^−∞ = %v", n, a)
				}
			}
			if n <= 5 && (math.Abs(float64(s1)-ref) > 1e-6*ref || math.Abs(float64(s2)-ref) > 1e-6*ref) {
				t.Errorf("n=%d: sums %v, %v, want %v", n, s1, s2, ref)
			}
		}
	}
}
