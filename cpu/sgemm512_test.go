package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSgemmKernel12x32 holds the AVX-512 micro-kernel to the AVX2 one on
// each 6×16 quarter (the same FMAs in the same order: the same bits) and to
// the pure-Go twin within FMA rounding, over k, padding of ldc and beta.
func TestSgemmKernel12x32(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU or in this build: the wide kernel is the pure-Go twin here")
	}
	rng := rand.New(rand.NewPCG(12, 32))
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 63, 256} {
		for _, pad := range []int{0, 5} {
			for _, beta := range []float32{0, 1, -0.5} {
				ldc := 32 + pad
				a := make([]float32, 12*k)
				b := make([]float32, 32*k)
				c := make([]float32, 12*ldc)
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				for i := range c {
					c[i] = rng.Float32()*2 - 1
				}
				if beta == 0 {
					for i := range c {
						c[i] = float32(math.NaN()) // not read
					}
				}
				wide, quarters, generic := slices.Clone(c), slices.Clone(c), slices.Clone(c)
				const alpha = 0.75
				sgemmKernel12x32AVX512(k, a, b, wide, ldc, alpha, beta)
				for p := range 2 {
					for q := range 2 {
						sgemmKernelAVX2(k, a[p*6*k:], 1, 6, b[q*16*k:], 16, quarters[p*6*ldc+q*16:], ldc, alpha, beta)
					}
				}
				sgemmKernel12x32Generic(k, a, b, generic, ldc, alpha, beta)
				for r := range 12 {
					for j := range ldc {
						i := r*ldc + j
						if j >= 32 {
							if !same(wide[i], c[i]) {
								t.Fatalf("k=%d: wrote C[%d, %d] outside the tile", k, r, j)
							}
							continue
						}
						if math.Float32bits(wide[i]) != math.Float32bits(quarters[i]) {
							t.Fatalf("k=%d pad=%d beta=%g: C[%d, %d] wide %g, AVX2 %g", k, pad, beta, r, j, wide[i], quarters[i])
						}
						if d := math.Abs(float64(wide[i] - generic[i])); !(d <= 1e-6*float64(k+2)) {
							t.Fatalf("k=%d: C[%d, %d] wide %g, pure Go %g", k, r, j, wide[i], generic[i])
						}
					}
				}
			}
		}
	}
}

// TestSgemmKernel6x32 holds the 6×32 kernel (a block's odd A panel) to the
// AVX2 kernel on each 6×16 half (the same bits) and to its pure-Go twin
// within FMA rounding, over k, padding of ldc and beta.
func TestSgemmKernel6x32(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU or in this build: the 6×32 kernel is the pure-Go twin here")
	}
	rng := rand.New(rand.NewPCG(6, 32))
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 63, 256} {
		for _, pad := range []int{0, 5} {
			for _, beta := range []float32{0, 1, -0.5} {
				ldc := 32 + pad
				a := make([]float32, 6*k)
				b := make([]float32, 32*k)
				c := make([]float32, 6*ldc)
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				for i := range c {
					c[i] = rng.Float32()*2 - 1
					if beta == 0 {
						c[i] = float32(math.NaN()) // not read
					}
				}
				wide, halves, generic := slices.Clone(c), slices.Clone(c), slices.Clone(c)
				const alpha = 0.75
				sgemmKernel6x32AVX512(k, a, b, wide, ldc, alpha, beta)
				for q := range 2 {
					sgemmKernelAVX2(k, a, 1, 6, b[q*16*k:], 16, halves[q*16:], ldc, alpha, beta)
				}
				sgemmKernel6x32Generic(k, a, b, generic, ldc, alpha, beta)
				for r := range 6 {
					for j := range ldc {
						i := r*ldc + j
						if j >= 32 {
							if !same(wide[i], c[i]) {
								t.Fatalf("k=%d: wrote C[%d, %d] outside the tile", k, r, j)
							}
							continue
						}
						if !same(wide[i], halves[i]) {
							t.Fatalf("k=%d pad=%d beta=%g: C[%d, %d] 6×32 %g, AVX2 %g", k, pad, beta, r, j, wide[i], halves[i])
						}
						if d := math.Abs(float64(wide[i] - generic[i])); !(d <= 1e-6*float64(k+2)) {
							t.Fatalf("k=%d: C[%d, %d] 6×32 %g, pure Go %g", k, r, j, wide[i], generic[i])
						}
					}
				}
			}
		}
	}
}

func same(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }

// TestSgemmWideMatchesNarrow: the whole product with the 12×32 kernel gives
// the same bits as with the 6×16 one alone, over shapes that leave odd and
// partial panels at every edge, both transposes, threads and beta.
func TestSgemmWideMatchesNarrow(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU or in this build")
	}
	defer func(w bool) { sgemmWide = w }(sgemmWide)
	rng := rand.New(rand.NewPCG(5, 12))
	for _, tc := range []sgemmCase{
		{m: 144, n: 128, k: 256, alpha: 1},
		{m: 150, n: 200, k: 300, alpha: 0.5, beta: 1},
		{m: 37, n: 95, k: 19, alpha: 1, beta: -2, pad: 3},
		{transA: true, m: 77, n: 130, k: 64, alpha: 1},
		{transB: true, m: 300, n: 97, k: 513, alpha: -1, beta: 0.5, pad: 1},
		{transA: true, transB: true, m: 13, n: 33, k: 7, alpha: 2},
	} {
		for _, threads := range []int{1, 2} {
			a, lda, b, ldb, c, ldc := sgemmOperands(rng, tc)
			narrow := slices.Clone(c)
			sgemmWide = true
			sgemm(true, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			sgemmWide = false
			sgemm(true, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, narrow, ldc)
			for i := range c {
				if !same(c[i], narrow[i]) {
					t.Fatalf("%v threads %d: C[%d] wide %g, narrow %g", tc, threads, i, c[i], narrow[i])
				}
			}
		}
	}
}
