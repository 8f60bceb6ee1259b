package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmTransposeNTMatchesDirect holds the transposed form of A·Bᵀ
// (sgemmNTAsTranspose) to the direct form's bits, element for element, at
// the shapes it takes (few rows, ragged M, N across chunks, K over several
// blocks, padded strides, alpha ≠ 1), and checks that C's padding is left
// alone and that products it does not take (beta ≠ 0) are unchanged.
func TestSgemmTransposeNTMatchesDirect(t *testing.T) {
	if !sgemmWide {
		t.Skip("the transposed form runs on the AVX-512 path only")
	}
	defer func(v bool) { sgemmTransNT = v }(sgemmTransNT)
	rng := rand.New(rand.NewPCG(3, 7))
	for _, s := range [][3]int{
		{128, 768, 768}, {3, 256, 128}, {8, 300, 200}, {12, 1024, 768}, {24, 2100, 256},
		{33, 768, 3072}, {100, 4113, 130}, {128, 1040, 777}, {127, 257, 129},
	} {
		m, n, k := s[0], s[1], s[2]
		for _, alpha := range []float32{1, 0.5} {
			t.Run(fmt.Sprintf("%dx%dx%d/alpha=%v", m, n, k, alpha), func(t *testing.T) {
				if !sgemmTransposeNT(true, false, true, m, n, k, 0) {
					t.Fatalf("shape not taken by the transposed form")
				}
				lda, ldb, ldc := k+3, k+5, n+7
				a := make([]float32, (m-1)*lda+k)
				b := make([]float32, (n-1)*ldb+k)
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				run := func(on bool) []float32 {
					sgemmTransNT = on
					c := make([]float32, m*ldc)
					for i := range c {
						c[i] = float32(math.NaN()) // beta = 0: C is not read
					}
					sgemm(true, 0, false, true, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
					return c
				}
				want, got := run(false), run(true)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("C[%d, %d] = %v, direct form %v", i/ldc, i%ldc, got[i], want[i])
					}
				}
			})
		}
	}
	if sgemmTransposeNT(true, false, true, 128, 768, 768, 1) || sgemmTransposeNT(true, false, false, 128, 768, 768, 0) ||
		sgemmTransposeNT(true, false, true, 256, 768, 768, 0) || sgemmTransposeNT(false, false, true, 128, 768, 768, 0) {
		t.Fatal("the transposed form takes a product outside its rule")
	}
}

// BenchmarkSgemmTransposeNT times A·Bᵀ with few rows of A in the direct
// form ("direct") and transposed ("transposed", sgemmNTAsTranspose) side
// by side, in GFLOP/s, with B cold as a frozen weight is in a training
// step (each call reads the next of enough copies to overflow the caches):
// the decoder's products at t5-base source 128, target 16 (128 rows), a
// GLUE batch's (32) and the LM head.
func BenchmarkSgemmTransposeNT(b *testing.B) {
	if !sgemmWide {
		b.Skip("the transposed form runs on the AVX-512 path only")
	}
	defer func(v bool) { sgemmTransNT = v }(sgemmTransNT)
	for _, s := range [][3]int{{128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}, {128, 32128, 768}, {32, 768, 768}, {32, 3072, 768}, {64, 768, 768}} {
		m, n, k := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 3))
		a := make([]float32, m*k)
		c := make([]float32, m*n)
		for i := range a {
			a[i] = rng.Float32()
		}
		bs := coldCopies(rng, k*n)
		copies := len(bs)
		for _, variant := range []string{"direct", "transposed"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, n, k, variant), func(b *testing.B) {
				sgemmTransNT = variant == "transposed"
				i := 0
				for b.Loop() {
					sgemm(true, 0, false, true, m, n, k, 1, a, k, bs[i%copies], k, 0, c, n)
					i++
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
