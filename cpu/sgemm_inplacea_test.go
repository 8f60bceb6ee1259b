package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSgemmInPlaceAMatchesPacked: products whose A the wide path reads in
// place (useInPlaceA) give the same bits as with A packed, over shapes that
// select it — N ≤ 128 with either transpose and B packed or in place, and
// x·Wᵀ shapes — with odd and partial A panels, several K blocks, beta,
// row padding (A exactly as long as its last row: an over-read panics) and
// one or more threads.
func TestSgemmInPlaceAMatchesPacked(t *testing.T) {
	if !sgemmWide {
		t.Skip("A is read in place by the AVX-512 kernels only")
	}
	defer func(v bool) { sgemmInPlaceA = v }(sgemmInPlaceA)
	rng := rand.New(rand.NewPCG(3, 14))
	cases := []sgemmCase{
		{transB: true, m: 128, n: 128, k: 64, alpha: 1},
		{m: 128, n: 64, k: 128, alpha: 1, beta: 1},
		{transA: true, m: 128, n: 64, k: 128, alpha: 0.5, pad: 3},
		{transA: true, transB: true, m: 41, n: 100, k: 300, alpha: -1, beta: 0.5},
		{transB: true, m: 203, n: 330, k: 600, alpha: 1, pad: 5},
		{transB: true, m: 130, n: 1100, k: 768, alpha: 2, beta: -1},
		{m: 37, n: 70, k: 513, alpha: 1, pad: 1},
	}
	for _, tc := range cases {
		for _, threads := range []int{1, 2} {
			a, lda, b, ldb, c, ldc := sgemmOperands(rng, tc)
			d := sgemmArgs{transA: tc.transA, transB: tc.transB, m: tc.m, n: tc.n, k: tc.k, lda: lda, ldb: ldb}
			d.inPlaceB = !tc.transB && ldb <= 1024
			if !d.useInPlaceA() {
				t.Fatalf("%v: the case does not select A in place", tc)
			}
			packed := slices.Clone(c)
			sgemmInPlaceA = true
			sgemm(true, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			sgemmInPlaceA = false
			sgemm(true, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, packed, ldc)
			for i := range c {
				if !same(c[i], packed[i]) {
					t.Fatalf("%v threads %d: C[%d] A in place %g, packed %g", tc, threads, i, c[i], packed[i])
				}
			}
		}
	}
}

// BenchmarkSgemmInPlaceA times products with A read in place by the
// strided 12×32 kernel ("inplace") and packed ("packed"), side by side, in
// GFLOP/s: the linear layers' x·Wᵀ at the encoder's 1024 rows and the
// decoder's 128 (B a frozen weight, cold), and attention's per-head
// products (batch 8 items on the threads, as the batched Gemm runs them:
// scores Q·Kᵀ, context P·V, and Pᵀ·dO). For alternating rounds use
// -count and benchstat, or run the binary once per variant in turn.
func BenchmarkSgemmInPlaceA(b *testing.B) {
	if !sgemmWide {
		b.Skip("A is read in place by the AVX-512 kernels only")
	}
	defer func(v bool) { sgemmInPlaceA = v }(sgemmInPlaceA)
	for _, s := range []struct {
		m, n, k        int
		transA, transB bool
		batch          int
	}{
		{1024, 768, 768, false, true, 0}, {1024, 3072, 768, false, true, 0}, {128, 768, 768, false, true, 0},
		{128, 3072, 768, false, true, 0}, {1024, 512, 512, false, true, 0}, {1024, 2048, 512, false, true, 0},
		{128, 128, 64, false, true, 8}, {128, 64, 128, false, false, 8}, {128, 64, 128, true, false, 8},
	} {
		rng := rand.New(rand.NewPCG(1, 4))
		items := max(s.batch, 1)
		a := make([]float32, s.m*s.k*items)
		c := make([]float32, s.m*s.n*items)
		for i := range a {
			a[i] = rng.Float32()
		}
		// Enough copies of B to overflow the caches for the unbatched
		// products (a frozen weight); the batched ones reuse theirs.
		copies := 1
		if s.batch == 0 {
			copies = max(2, (128<<20)/(4*s.k*s.n))
		}
		bs := make([][]float32, copies)
		for i := range bs {
			bs[i] = make([]float32, s.k*s.n*items)
			for j := range bs[i] {
				bs[i][j] = rng.Float32()
			}
		}
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		op := map[[2]bool]string{{false, false}: "NN", {false, true}: "NT", {true, false}: "TN", {true, true}: "TT"}[[2]bool{s.transA, s.transB}]
		for _, variant := range []string{"packed", "inplace"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s/batch=%d/%s", s.m, s.n, s.k, op, s.batch, variant), func(b *testing.B) {
				sgemmInPlaceA = variant == "inplace"
				i := 0
				for b.Loop() {
					bm := bs[i%copies]
					i++
					if s.batch == 0 {
						sgemm(true, 0, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
						continue
					}
					parallelFor(0, s.batch, 1, func(lo, hi int) {
						for x := lo; x < hi; x++ {
							sgemm(true, 1, s.transA, s.transB, s.m, s.n, s.k, 1, a[x*s.m*s.k:], lda, bm[x*s.k*s.n:], ldb, 0, c[x*s.m*s.n:], s.n)
						}
					})
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k*items)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
