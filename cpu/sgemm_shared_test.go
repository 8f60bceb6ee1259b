package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSgemmSharedBMatchesGrid: products on several threads sharing each
// packed B block give the same bits as the static grid of threads, with
// several N and K blocks, a few rows (column chunks), partial panels at
// every edge, both transposes, beta, both kernels and the pure-Go one, and
// more threads than cores (one thread then runs two shares in turn).
func TestSgemmSharedBMatchesGrid(t *testing.T) {
	defer func(s, w bool) { sgemmShareB, sgemmWide = s, w }(sgemmShareB, sgemmWide)
	rng := rand.New(rand.NewPCG(7, 21))
	cases := []sgemmCase{
		{m: 1024, n: 768, k: 768, alpha: 1},
		{m: 301, n: 2100, k: 600, alpha: 0.5, beta: 1, pad: 3},
		{transB: true, m: 128, n: 1500, k: 512, alpha: 1},
		{transA: true, m: 40, n: 777, k: 300, alpha: -1, beta: 0.5},
		{transA: true, transB: true, m: 97, n: 333, k: 1030, alpha: 2, beta: -1, pad: 1},
		{m: 13, n: 4000, k: 64, alpha: 1},
	}
	if testing.Short() {
		cases = cases[1:4]
	}
	for _, tc := range cases {
		for _, v := range []struct {
			simd, wide bool
		}{{true, true}, {true, false}, {false, false}} {
			if v.simd && !hasAVX2FMA || v.wide && !hasAVX512 {
				continue
			}
			for _, threads := range []int{2, 3} {
				a, lda, b, ldb, c, ldc := sgemmOperands(rng, tc)
				grid := slices.Clone(c)
				sgemmWide = v.wide
				sgemmShareB = true
				sgemm(v.simd, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				sgemmShareB = false
				sgemm(v.simd, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, grid, ldc)
				for i := range c {
					if !same(c[i], grid[i]) {
						t.Fatalf("%v simd %v wide %v threads %d: C[%d] shared %g, grid %g", tc, v.simd, v.wide, threads, i, c[i], grid[i])
					}
				}
			}
		}
	}
}

// BenchmarkSgemmSharedB times the t5-base step's products on all threads
// with each packed B block shared by the threads ("shared") and with the
// static grid that packs B per grid row ("grid"), side by side, in GFLOP/s:
// M×K×N with op(B) transposed (NT: the forward's x·Wᵀ) or not (NN: the
// backward's dy·W), at the encoder's 1024 rows and the decoder's 128.
func BenchmarkSgemmSharedB(b *testing.B) {
	defer func(s bool) { sgemmShareB = s }(sgemmShareB)
	for _, s := range []struct {
		m, k, n int
		transB  bool
	}{
		{1024, 768, 768, true}, {1024, 768, 768, false}, {1024, 768, 3072, true},
		{1024, 3072, 768, true}, {1024, 3072, 768, false}, {128, 768, 768, true},
		{128, 768, 3072, true}, {128, 3072, 768, false}, {128, 768, 32128, true},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		a := make([]float32, s.m*s.k)
		bm := make([]float32, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for i := range a {
			a[i] = rng.Float32()
		}
		for i := range bm {
			bm[i] = rng.Float32()
		}
		ldb := s.n
		op := "NN"
		if s.transB {
			ldb, op = s.k, "NT"
		}
		for _, variant := range []string{"grid", "shared"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s/%s", s.m, s.k, s.n, op, variant), func(b *testing.B) {
				sgemmShareB = variant == "shared"
				for b.Loop() {
					sgemm(hasAVX2FMA, 0, false, s.transB, s.m, s.n, s.k, 1, a, s.k, bm, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSgemmInPlaceB times the untransposed products (NN: the
// backward's dy·W, attention's probs·V) with the full B panels read in
// place by the wide kernel ("inplace") and packed ("packed"), side by side,
// in GFLOP/s, with B cold as a frozen weight is in a training step: each
// call reads the next of enough copies of B to overflow the caches.
// B with rows longer than 1024 floats (T5's FFN width) always packs; the
// 2048- and 3072-wide shapes are here to show why.
func BenchmarkSgemmInPlaceB(b *testing.B) {
	if !sgemmWide {
		b.Skip("B is read in place by the AVX-512 kernels only")
	}
	defer func(v bool) { sgemmInPlaceNN = v }(sgemmInPlaceNN)
	for _, s := range [][3]int{
		{128, 768, 768}, {128, 3072, 768}, {128, 32128, 768}, {512, 768, 768},
		{1024, 768, 768}, {1024, 3072, 768}, {128, 768, 3072},
		{1024, 512, 512}, {1024, 32128, 512}, {1024, 512, 1024}, {1024, 512, 2048},
	} {
		m, k, n := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 3))
		a := make([]float32, m*k)
		c := make([]float32, m*n)
		for i := range a {
			a[i] = rng.Float32()
		}
		bs := coldCopies(rng, k*n)
		copies := len(bs)
		for _, variant := range []string{"packed", "inplace"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, k, n, variant), func(b *testing.B) {
				sgemmInPlaceNN = variant == "inplace"
				i := 0
				for b.Loop() {
					sgemm(true, 0, false, false, m, n, k, 1, a, k, bs[i%copies], n, 0, c, n)
					i++
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// coldCopies returns enough random copies of a floats-long operand (at
// least two) that a benchmark reading the next one on each call finds it
// cold, as a frozen weight is in a training step.
func coldCopies(rng *rand.Rand, floats int) [][]float32 {
	bs := make([][]float32, max(2, (128<<20)/(4*floats)))
	for i := range bs {
		bs[i] = make([]float32, floats)
		for j := range bs[i] {
			bs[i][j] = rng.Float32()
		}
	}
	return bs
}
