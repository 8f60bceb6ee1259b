package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// wideKernel is an AVX-512 micro-kernel of rows×32 tiles (rows/6 packed A
// panels against 32 columns of B: two packed panels or B in place) and its
// pure-Go twin.
type wideKernel func(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)

// checkWideKernel holds a rows×32 AVX-512 kernel to the AVX2 kernel on each
// 6×16 part of its tile (the same FMAs in the same order: the same bits)
// and to its pure-Go twin within FMA rounding, over k, padding of ldc,
// beta and the B layout (two packed panels; B in place with row strides of
// 32 and more, as the NN products read it), and checks that it writes
// nothing outside the tile.
func checkWideKernel(t *testing.T, rows int, asm, generic wideKernel, seed uint64) {
	t.Helper()
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU or in this build: the wide kernels are their pure-Go twins here")
	}
	rng := rand.New(rand.NewPCG(seed, 32))
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 63, 256} {
		for _, pad := range []int{0, 5} {
			for li, ldb := range []int{0, 32, 768 + 16} {
				for _, beta := range []float32{0, 1, -0.5} {
					ldc := 32 + pad
					rsb, hb := sgemmNR, sgemmNR*k // two packed panels
					if ldb > 0 {
						rsb, hb = ldb, sgemmNR // in place
					}
					a := make([]float32, rows*k)
					b := make([]float32, max(32*k, (k-1)*rsb+32+li))
					c := make([]float32, rows*ldc)
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
					wide, parts, twin := slices.Clone(c), slices.Clone(c), slices.Clone(c)
					const alpha = 0.75
					asm(k, a, b, rsb, hb, wide, ldc, alpha, beta)
					for p := range rows / 6 {
						for q := range 2 {
							sgemmKernelAVX2(k, a[p*6*k:], 1, 6, b[q*hb:], rsb, parts[p*6*ldc+q*16:], ldc, alpha, beta)
						}
					}
					generic(k, a, b, rsb, hb, twin, ldc, alpha, beta)
					for r := range rows {
						for j := range ldc {
							i := r*ldc + j
							if j >= 32 {
								if !same(wide[i], c[i]) {
									t.Fatalf("k=%d: wrote C[%d, %d] outside the tile", k, r, j)
								}
								continue
							}
							if !same(wide[i], parts[i]) {
								t.Fatalf("k=%d pad=%d beta=%g: C[%d, %d] wide %g, AVX2 %g", k, pad, beta, r, j, wide[i], parts[i])
							}
							if d := math.Abs(float64(wide[i] - twin[i])); !(d <= 1e-6*float64(k+2)) {
								t.Fatalf("k=%d: C[%d, %d] wide %g, pure Go %g", k, r, j, wide[i], twin[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmKernel12x32: the 12×32 kernel against the AVX2 kernel on each
// 6×16 quarter and against its pure-Go twin.
func TestSgemmKernel12x32(t *testing.T) {
	checkWideKernel(t, 12, sgemmKernel12x32AVX512, sgemmKernel12x32Generic, 12)
}

// TestSgemmKernel6x32: the 6×32 kernel (a block's odd A panel) against the
// AVX2 kernel on each 6×16 half and against its pure-Go twin.
func TestSgemmKernel6x32(t *testing.T) {
	checkWideKernel(t, 6, sgemmKernel6x32AVX512, sgemmKernel6x32Generic, 6)
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
		// An odd number of full B panels and a partial one: the edge pair.
		{m: 100, n: 24, k: 300, alpha: 1, beta: 1},
		{transB: true, m: 1024, n: 24, k: 768, alpha: 0.5, pad: 2},
		{transB: true, m: 61, n: 56, k: 100, alpha: 1, beta: -0.5, pad: 1},
		{transA: true, m: 43, n: 88, k: 260, alpha: -1, beta: 2},
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

// TestSgemmKernel12x32Strided: the 12×32 kernel reading A in place (either
// transpose, row strides with padding) gives the same bits as the packed
// 12×32 kernel on a packed copy of the same A, and its pure-Go twin agrees
// within FMA rounding, over k, beta and the B layout; it writes nothing
// outside the tile.
func TestSgemmKernel12x32Strided(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU or in this build: the wide kernels are their pure-Go twins here")
	}
	rng := rand.New(rand.NewPCG(12, 33))
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 63, 256} {
		for _, trans := range []bool{false, true} {
			for _, pad := range []int{0, 3} {
				for _, inPlaceB := range []bool{false, true} {
					for _, beta := range []float32{0, 1, -0.5} {
						rsa, csa := k+pad, 1
						if trans {
							rsa, csa = 1, 12+pad
						}
						a := make([]float32, 11*rsa+(k-1)*csa+1)
						for i := range a {
							a[i] = rng.Float32()*2 - 1
						}
						packed := make([]float32, 12*k)
						for r := range 12 {
							for l := range k {
								packed[(r/6)*6*k+l*6+r%6] = a[r*rsa+l*csa]
							}
						}
						rsb, hb := sgemmNR, sgemmNR*k
						if inPlaceB {
							rsb, hb = 768+16, sgemmNR
						}
						b := make([]float32, max(32*k, (k-1)*rsb+32))
						for i := range b {
							b[i] = rng.Float32()*2 - 1
						}
						const ldc = 35
						c := make([]float32, 12*ldc)
						for i := range c {
							c[i] = rng.Float32()*2 - 1
							if beta == 0 {
								c[i] = float32(math.NaN()) // not read
							}
						}
						got, want, twin := slices.Clone(c), slices.Clone(c), slices.Clone(c)
						const alpha = 0.75
						sgemmKernel12x32StridedAVX512(k, a, rsa, csa, b, rsb, hb, got, ldc, alpha, beta)
						sgemmKernel12x32AVX512(k, packed, b, rsb, hb, want, ldc, alpha, beta)
						sgemmKernel12x32StridedGeneric(k, a, rsa, csa, b, rsb, hb, twin, ldc, alpha, beta)
						for i := range c {
							if i%ldc >= 32 {
								if !same(got[i], c[i]) {
									t.Fatalf("k=%d: wrote C[%d] outside the tile", k, i)
								}
								continue
							}
							if !same(got[i], want[i]) {
								t.Fatalf("k=%d trans=%v pad=%d inPlaceB=%v beta=%g: C[%d] strided %g, packed %g", k, trans, pad, inPlaceB, beta, i, got[i], want[i])
							}
							if d := math.Abs(float64(got[i] - twin[i])); !(d <= 1e-6*float64(k+2)) {
								t.Fatalf("k=%d: C[%d] strided %g, pure Go %g", k, i, got[i], twin[i])
							}
						}
					}
				}
			}
		}
	}
}
