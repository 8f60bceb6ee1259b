package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// sgemmRef is the float64 triple-loop reference of C = alpha·op(A)·op(B) +
// beta·C on an m×n result with leading dimension ldc (beta = 0 ignores C).
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				var av, bv float32
				if transA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if transB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// sgemmCase is one product of the tests: sizes, transposes, extra leading
// dimension padding and scalars.
type sgemmCase struct {
	transA, transB bool
	m, n, k        int
	pad            int
	alpha, beta    float32
}

func (tc sgemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,pad=%d,alpha=%g,beta=%g", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.pad, tc.alpha, tc.beta)
}

// sgemmSentinel marks C elements outside the m×n submatrix.
const sgemmSentinel = float32(-12345.5)

// sgemmOperands makes random A, B and a C whose padding (ldc > n and the
// rows' tails) holds sgemmSentinel; with beta = 0 the submatrix of C is NaN,
// which must not propagate.
func sgemmOperands(rng *rand.Rand, tc sgemmCase) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc = max(ac, 1)+tc.pad, max(bc, 1)+tc.pad, max(tc.n, 1)+tc.pad
	a = make([]float32, max(0, (ar-1)*lda+ac)) // exact length: no slack after the last row
	for i := range a {
		a[i] = rng.Float32()*2 - 1
	}
	b = make([]float32, max(0, (br-1)*ldb+bc))
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	c = make([]float32, tc.m*ldc+tc.pad)
	for i := range c {
		c[i] = sgemmSentinel
	}
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			if tc.beta == 0 {
				c[i*ldc+j] = float32(math.NaN())
			} else {
				c[i*ldc+j] = rng.Float32()*2 - 1
			}
		}
	}
	return a, lda, b, ldb, c, ldc
}

// sgemmTol is the relative-error tolerance ‖C−ref‖/‖ref‖ of a product with
// inner dimension k: float32 rounding grows about like √k.
func sgemmTol(k int) float64 { return 1e-6 * (4 + math.Sqrt(float64(k))) }

// checkSgemm runs one case through sgemm(simd, threads) and compares it with
// the float64 reference, and the padding of C with the sentinel.
func checkSgemm(t *testing.T, rng *rand.Rand, tc sgemmCase, simd bool, threads int) []float32 {
	t.Helper()
	a, lda, b, ldb, c, ldc := sgemmOperands(rng, tc)
	ref := sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	sgemm(simd, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	var num, den float64
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			v := c[i*ldc+j]
			if j >= tc.n {
				if v != sgemmSentinel {
					t.Fatalf("%v simd=%v: C[%d,%d] outside the result changed to %g", tc, simd, i, j, v)
				}
				continue
			}
			r := ref[i*tc.n+j]
			if math.IsNaN(float64(v)) {
				t.Fatalf("%v simd=%v: C[%d,%d] is NaN", tc, simd, i, j)
			}
			num += (float64(v) - r) * (float64(v) - r)
			den += r * r
		}
	}
	for i := tc.m * ldc; i < len(c); i++ {
		if c[i] != sgemmSentinel {
			t.Fatalf("%v simd=%v: C[%d] after the result changed to %g", tc, simd, i, c[i])
		}
	}
	if den == 0 {
		if num != 0 {
			t.Fatalf("%v simd=%v: want zero result, error² %g", tc, simd, num)
		}
		return c
	}
	if e := math.Sqrt(num / den); e > sgemmTol(tc.k) {
		t.Fatalf("%v simd=%v threads=%d: relative error %.3g > %.3g", tc, simd, threads, e, sgemmTol(tc.k))
	}
	return c
}

// sgemmVariants lists the SIMD settings to test: the pure-Go kernel always,
// the assembly one where the CPU runs it.
func sgemmVariants() []bool {
	if hasAVX2FMA {
		return []bool{false, true}
	}
	return []bool{false}
}

func TestSgemmShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 2, 5, 7, 15, 16, 17, 31, 33, 65}
	scalars := [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}, {0, 2}, {0, 0}}
	n := 0
	for _, m := range sizes {
		for _, nn := range sizes {
			for _, k := range sizes {
				for tr := 0; tr < 4; tr++ {
					// Cycle padding and scalars rather than taking every
					// combination, to keep the test fast.
					n++
					s := scalars[n%len(scalars)]
					tc := sgemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: m, n: nn, k: k, pad: n % 3 * 3, alpha: s[0], beta: s[1]}
					for _, simd := range sgemmVariants() {
						checkSgemm(t, rng, tc, simd, 1+n%2)
					}
				}
			}
		}
	}
}

func TestSgemmLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := [][3]int{{300, 257, 129}, {97, 24, 768}, {1, 40, 500}, {130, 70, 600}, {1000, 4, 6}, {6, 160, 300}, {3, 3, 3000}}
	threads := []int{1, 2, 3}
	if testing.Short() || sgemmRace {
		shapes, threads = shapes[:4], threads[:2]
	}
	for i, s := range shapes {
		for tr := 0; tr < 4; tr++ {
			tc := sgemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], pad: (i + tr) % 2 * 5, alpha: 0.75, beta: []float32{0, 1, -0.5}[(i+tr)%3]}
			for _, simd := range sgemmVariants() {
				for _, th := range threads {
					checkSgemm(t, rng, tc, simd, th)
				}
			}
		}
	}
}

// TestSgemmTransposedC runs the tall products with 16 < N < 32, every
// transpose — with op(A) transposed they are computed as their transpose
// (sgemmTransposeC), otherwise by the wide kernels' edge pair (edgePair) —
// with and without beta, padded leading dimensions, on 1 and 2 threads.
func TestSgemmTransposedC(t *testing.T) {
	if !hasAVX2FMA || !sgemmWide {
		t.Skip("the transposed path needs the AVX-512 kernels")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i, s := range [][3]int{{1024, 24, 768}, {400, 17, 100}, {520, 31, 300}} {
		if !sgemmTransposeC(true, true, s[0], s[1], s[2]) {
			t.Fatalf("%v does not take the transposed path", s)
		}
		for tr := 0; tr < 4; tr++ {
			tc := sgemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], pad: (i + tr) % 2 * 3,
				alpha: 0.75, beta: []float32{0, 1, -0.5}[(i+tr)%3]}
			for _, th := range []int{1, 2} {
				checkSgemm(t, rng, tc, true, th)
			}
		}
	}
}

// TestSgemmBlocking crosses several KC, MC and NC blocks so the beta = 1
// accumulation over K blocks, the M/N block edges and the thread grid all
// run.
func TestSgemmBlocking(t *testing.T) {
	if testing.Short() || sgemmRace {
		t.Skip("large product")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	tc := sgemmCase{m: sgemmMC + 13, n: sgemmNC + 40, k: sgemmKC + 7, pad: 3, alpha: 1.25, beta: 0.5}
	for _, simd := range sgemmVariants() {
		checkSgemm(t, rng, tc, simd, 1)
	}
	tc = sgemmCase{transA: true, transB: true, m: 40, n: 500, k: 700, alpha: -1, beta: 0}
	for _, simd := range sgemmVariants() {
		checkSgemm(t, rng, tc, simd, 4)
	}
}

// TestSgemmSimdMatchesGeneric holds the assembly kernel to the pure-Go one
// on the same packed panels.
func TestSgemmSimdMatchesGeneric(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2+FMA kernels in this build")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{1, 2, 3, 4, 5, 8, 13, 256} {
		for _, beta := range []float32{0, 1, -0.5} {
			// A and B strides: packed panels, A in place (row-major and
			// transposed), B in place.
			for _, rs := range [][3]int{{1, sgemmMR, sgemmNR}, {k + 3, 1, sgemmNR}, {1, sgemmMR + 2, sgemmNR}, {1, sgemmMR, sgemmNR + 5}} {
				a := make([]float32, (sgemmMR-1)*rs[0]+(k-1)*rs[1]+1)
				b := make([]float32, (k-1)*rs[2]+sgemmNR)
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				const ldc = sgemmNR + 3
				c0 := make([]float32, (sgemmMR-1)*ldc+sgemmNR)
				for i := range c0 {
					c0[i] = rng.Float32()
					if beta == 0 {
						c0[i] = float32(math.NaN())
					}
				}
				orig := append([]float32(nil), c0...)
				c1 := append([]float32(nil), c0...)
				sgemmKernelGeneric(k, a, rs[0], rs[1], b, rs[2], c0, ldc, 1.5, beta)
				sgemmKernelAVX2(k, a, rs[0], rs[1], b, rs[2], c1, ldc, 1.5, beta)
				for r := 0; r < sgemmMR; r++ {
					for j := 0; j < ldc && r*ldc+j < len(c0); j++ {
						x, y := c0[r*ldc+j], c1[r*ldc+j]
						if j >= sgemmNR {
							if o := math.Float32bits(orig[r*ldc+j]); math.Float32bits(x) != o || math.Float32bits(y) != o {
								t.Fatalf("k=%d: padding C[%d,%d] changed", k, r, j)
							}
							continue
						}
						if d := math.Abs(float64(x - y)); !(d <= 1e-5*(1+math.Abs(float64(x)))*math.Sqrt(float64(k))) {
							t.Fatalf("k=%d beta=%g rs=%v: C[%d,%d] generic %g, avx2 %g", k, beta, rs, r, j, x, y)
						}
					}
				}
			}
		}
	}
}

func TestSgemmPublic(t *testing.T) {
	// Sgemm is sgemm with the default kernel and threads.
	a := []float32{1, 2, 3, 4, 5, 6} // 2×3
	b := []float32{1, 0, 0, 1, 1, 1} // 3×2
	c := []float32{9, 9, 9, 9}
	Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	want := []float32{4, 5, 10, 11}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("C = %v, want %v", c, want)
		}
	}
}

// TestSgemmReusesBuffers checks that the pack buffers come from the pools:
// repeated products allocate only a few small objects, not the packed
// panels.
func TestSgemmReusesBuffers(t *testing.T) {
	if sgemmRace {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	const m, n, k = 200, 300, 400
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	run := func() { sgemm(hasAVX2FMA, 1, false, false, m, n, k, 1, a, k, b, n, 0, c, n) }
	run()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 20
	for range runs {
		run()
	}
	runtime.ReadMemStats(&after)
	// The packed B block alone is k·n·4 = 480 KB; a GC in between may drop
	// a pooled buffer once, so allow one reallocation over all the runs.
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4*k*n/runs+4096 {
		t.Fatalf("%d bytes allocated per product", per)
	}
}

// TestSgemmKernelGeneric holds the pure-Go micro-kernel, on each of its
// stride cases (packed panels, A in place row-major and transposed, B in
// place, any strides), to a float64 reference in every build, elementwise
// within the recursive-summation bound (k+2)·u·(|alpha|·Σ|A·B| + |beta·C|),
// u = 2⁻²⁴, and checks that C outside the tile is not written.
func TestSgemmKernelGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const u = 1.0 / (1 << 24)
	for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 256, 259} {
		for _, beta := range []float32{0, 1, -0.5} {
			for _, rs := range [][3]int{{1, sgemmMR, sgemmNR}, {k + 3, 1, sgemmNR}, {1, sgemmMR + 2, sgemmNR}, {1, sgemmMR, sgemmNR + 5}, {k + 1, 1, sgemmNR + 3}, {2*k + 1, 2, sgemmNR + 1}} {
				rsa, csa, csb := rs[0], rs[1], rs[2]
				a := make([]float32, (sgemmMR-1)*rsa+(k-1)*csa+1)
				b := make([]float32, (k-1)*csb+sgemmNR)
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				const ldc, alpha = sgemmNR + 3, float32(1.5)
				c := make([]float32, (sgemmMR-1)*ldc+sgemmNR)
				for i := range c {
					c[i] = rng.Float32()*2 - 1
					if beta == 0 && i%ldc < sgemmNR {
						c[i] = float32(math.NaN()) // must not be read
					}
				}
				orig := append([]float32(nil), c...)
				sgemmKernelGeneric(k, a, rsa, csa, b, csb, c, ldc, alpha, beta)
				for r := 0; r < sgemmMR; r++ {
					for j := 0; j < ldc && r*ldc+j < len(c); j++ {
						got := c[r*ldc+j]
						if j >= sgemmNR {
							if math.Float32bits(got) != math.Float32bits(orig[r*ldc+j]) {
								t.Fatalf("k=%d strides=%v: C[%d,%d] outside the tile changed", k, rs, r, j)
							}
							continue
						}
						var s, abs float64
						for l := 0; l < k; l++ {
							p := float64(a[r*rsa+l*csa]) * float64(b[l*csb+j])
							s += p
							abs += math.Abs(p)
						}
						want := float64(alpha) * s
						bound := float64(k+2) * u * math.Abs(float64(alpha)) * abs
						if beta != 0 {
							cb := float64(beta) * float64(orig[r*ldc+j])
							want += cb
							bound += 2 * u * math.Abs(cb)
						}
						if d := math.Abs(float64(got) - want); !(d <= bound+1e-30) {
							t.Fatalf("k=%d beta=%g strides=%v: C[%d,%d] = %g, want %g (|diff| %.3g > %.3g)", k, beta, rs, r, j, got, want, d, bound)
						}
					}
				}
			}
		}
	}
}
