package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func kronRand(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// kronRelErr returns ‖got−want‖/‖want‖ (or ‖got−want‖ when want is zero).
func kronRelErr(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// kronKernelRef is the float64 reference of the three kernels: kind 0 = dot
// (C = A·Bᵀ), 1 = axpy (C = A·B), 2 = accT (C += Aᵀ·B).
func kronKernelRef(kind, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	switch kind {
	case 0, 1:
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for l := 0; l < k; l++ {
					var bv float32
					if kind == 1 {
						bv = b[l*ldb+j]
					} else {
						bv = b[j*ldb+l]
					}
					s += float64(a[i*lda+l]) * float64(bv)
				}
				if acc {
					out[i*ldc+j] += s
				} else {
					out[i*ldc+j] = s
				}
			}
		}
	case 2:
		for j := 0; j < k; j++ {
			for t := 0; t < n; t++ {
				var s float64
				for i := 0; i < m; i++ {
					s += float64(a[i*lda+j]) * float64(b[i*ldb+t])
				}
				out[j*ldc+t] += s
			}
		}
	}
	return out
}

// kronRunKernel runs one of the kernels in the given flavour.
func kronRunKernel(kind int, simd bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	switch kind {
	case 0:
		kronDot(simd, m, n, k, a, lda, b, ldb, c, ldc, acc)
	case 1:
		kronAxpy(simd, m, n, k, a, lda, b, ldb, c, ldc, acc)
	case 2:
		kronAccT(simd, m, n, k, a, lda, b, ldb, c, ldc)
	}
}

// kronKernelCase builds exact-length operands (so an out-of-bounds access by the
// assembly would hit the end of a slice) for kernel kind at m, n, k with
// padding pad on every leading dimension.
func kronKernelCase(rng *rand.Rand, kind, m, n, k, pad int) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	switch kind {
	case 0:
		lda, ldb, ldc = k+pad, k+pad, n+pad
		a, b, c = kronRand(rng, kronSpan(m, k, lda)), kronRand(rng, kronSpan(n, k, ldb)), kronRand(rng, kronSpan(m, n, ldc))
	case 1:
		lda, ldb, ldc = k+pad, n+pad, n+pad
		a, b, c = kronRand(rng, kronSpan(m, k, lda)), kronRand(rng, kronSpan(k, n, ldb)), kronRand(rng, kronSpan(m, n, ldc))
	case 2:
		lda, ldb, ldc = k+pad, n+pad, n+pad
		a, b, c = kronRand(rng, kronSpan(m, k, lda)), kronRand(rng, kronSpan(m, n, ldb)), kronRand(rng, kronSpan(k, n, ldc))
	}
	return
}

func TestKronKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 40}
	for kind := 0; kind < 3; kind++ {
		for trial := 0; trial < 150; trial++ {
			m, n, k := sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))]
			if trial%10 == 0 {
				k = 0
			}
			pad := rng.IntN(3)
			acc := rng.IntN(2) == 1
			a, lda, b, ldb, c, ldc := kronKernelCase(rng, kind, m, n, k, pad)
			want := kronKernelRef(kind, m, n, k, a, lda, b, ldb, c, ldc, acc)
			for _, simd := range []bool{false, true} {
				if simd && !hasAVX2FMA {
					continue
				}
				got := append([]float32(nil), c...)
				kronRunKernel(kind, simd, m, n, k, a, lda, b, ldb, got, ldc, acc)
				if e := kronRelErr(got, want); e > 1e-5 {
					t.Fatalf("kind %d simd=%v m=%d n=%d k=%d pad=%d acc=%v: rel err %g", kind, simd, m, n, k, pad, acc, e)
				}
				// Padding elements between rows must be untouched.
				for i := range got {
					if i%ldc >= n && got[i] != c[i] {
						t.Fatalf("kind %d simd=%v: padding element %d written", kind, simd, i)
					}
				}
			}
		}
	}
}

func FuzzKronKernels(f *testing.F) {
	f.Add(uint8(0), uint8(5), uint8(7), uint8(9), uint8(1), true, uint64(1))
	f.Add(uint8(1), uint8(1), uint8(33), uint8(3), uint8(0), false, uint64(2))
	f.Add(uint8(2), uint8(17), uint8(9), uint8(6), uint8(2), true, uint64(3))
	f.Fuzz(func(t *testing.T, kind, m8, n8, k8, pad8 uint8, acc bool, seed uint64) {
		if !hasAVX2FMA {
			t.Skip("no AVX2/FMA")
		}
		kind %= 3
		m, n, k, pad := int(m8%40)+1, int(n8%70)+1, int(k8%70), int(pad8%4)
		rng := rand.New(rand.NewPCG(seed, 7))
		a, lda, b, ldb, c, ldc := kronKernelCase(rng, int(kind), m, n, k, pad)
		g := append([]float32(nil), c...)
		s := append([]float32(nil), c...)
		kronRunKernel(int(kind), false, m, n, k, a, lda, b, ldb, g, ldc, acc)
		kronRunKernel(int(kind), true, m, n, k, a, lda, b, ldb, s, ldc, acc)
		want := make([]float64, len(g))
		for i, v := range g {
			want[i] = float64(v)
		}
		if e := kronRelErr(s, want); e > 1e-5 {
			t.Fatalf("asm vs generic: kind %d m=%d n=%d k=%d: rel err %g", kind, m, n, k, e)
		}
	})
}

// kronMixRef is the float64 reference of kronMix (grad=false: Q[c,:] =
// Σ_a M[a,c,:]⊙P[a,:], returned) and kronMixGrad (grad=true: dm plus
// Σ_rows P[a,:]⊙dQ[c,:], returned).
func kronMixRef(grad bool, rows, n, J int, m, p, q []float32) []float64 {
	nj := n * J
	if !grad {
		out := make([]float64, rows*nj)
		for r := 0; r < rows; r++ {
			for c := 0; c < n; c++ {
				for a := 0; a < n; a++ {
					for j := 0; j < J; j++ {
						out[r*nj+c*J+j] += float64(m[(a*n+c)*J+j]) * float64(p[r*nj+a*J+j])
					}
				}
			}
		}
		return out
	}
	out := kronF64(m)
	for r := 0; r < rows; r++ {
		for a := 0; a < n; a++ {
			for c := 0; c < n; c++ {
				for j := 0; j < J; j++ {
					out[(a*n+c)*J+j] += float64(p[r*nj+a*J+j]) * float64(q[r*nj+c*J+j])
				}
			}
		}
	}
	return out
}

func kronRunMix(grad, simd bool, rows, n, J int, m, p, q []float32) []float32 {
	if grad {
		dm := append([]float32(nil), m...)
		kronMixGrad(simd, rows, n, J, p, q, dm)
		return dm
	}
	out := make([]float32, rows*n*J)
	kronMix(simd, rows, n, J, m, p, out)
	return out
}

func TestKronMix(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, grad := range []bool{false, true} {
		for _, rows := range []int{1, 2, 7} {
			for _, n := range []int{1, 2, 3, 4, 8, 12} {
				for _, J := range []int{1, 3, 8, 9, 12, 17, 24} {
					m, p, q := kronRand(rng, n*n*J), kronRand(rng, rows*n*J), kronRand(rng, rows*n*J)
					want := kronMixRef(grad, rows, n, J, m, p, q)
					for _, simd := range []bool{false, hasAVX2FMA} {
						got := kronRunMix(grad, simd, rows, n, J, m, p, q)
						if e := kronRelErr(got, want); e > 1e-5 {
							t.Fatalf("grad=%v simd=%v rows=%d n=%d J=%d: rel err %g", grad, simd, rows, n, J, e)
						}
					}
				}
			}
		}
	}
}

func FuzzKronMix(f *testing.F) {
	f.Add(false, uint8(3), uint8(4), uint8(5), uint64(1))
	f.Add(true, uint8(1), uint8(12), uint8(13), uint64(2))
	f.Fuzz(func(t *testing.T, grad bool, rows8, n8, j8 uint8, seed uint64) {
		if !hasAVX2FMA {
			t.Skip("no AVX2/FMA")
		}
		rows, n, J := int(rows8%9)+1, int(n8%13)+1, int(j8%40)+1
		rng := rand.New(rand.NewPCG(seed, 9))
		m, p, q := kronRand(rng, n*n*J), kronRand(rng, rows*n*J), kronRand(rng, rows*n*J)
		g := kronRunMix(grad, false, rows, n, J, m, p, q)
		s := kronRunMix(grad, true, rows, n, J, m, p, q)
		// The sums can cancel (dm = m + Σ p·q over rows), so the error is
		// measured against the magnitude of their terms: the same sums of
		// absolute values.
		mag := kronRunMix(grad, false, rows, n, J, kronAbs(m), kronAbs(p), kronAbs(q))
		var num, den float64
		for i := range g {
			d := float64(s[i]) - float64(g[i])
			num += d * d
			den += float64(mag[i]) * float64(mag[i])
		}
		if e := math.Sqrt(num / den); e > 1e-5 {
			t.Fatalf("asm vs generic grad=%v rows=%d n=%d J=%d: rel err %g", grad, rows, n, J, e)
		}
	})
}

// kronAbs returns |x| elementwise.
func kronAbs(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(math.Abs(float64(v)))
	}
	return out
}
