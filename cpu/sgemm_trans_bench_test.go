package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// sgemmStepShapes are the products M×K×N of a t5-base training step at
// 1024 rows: the forward's NN/NT layer products and the weight gradients
// dW = Xᵀ·dY (TN, M = the layer's input width, K = the rows).
var sgemmStepShapes = [][3]int{{1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 768}, {768, 1024, 3072}, {3072, 1024, 768}, {768, 1024, 768}}

// BenchmarkSgemmTrans times the assembly SGEMM on all threads for each
// operand orientation at the step's shapes side by side, so a slow
// orientation (the weight gradients' TN) shows against NN at the same work.
func BenchmarkSgemmTrans(b *testing.B) {
	if !hasAVX2FMA {
		b.Skip("no AVX2/FMA")
	}
	for _, s := range sgemmStepShapes {
		m, k, n := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 1))
		a := make([]float32, m*k)
		bm := make([]float32, k*n)
		c := make([]float32, m*n)
		for i := range a {
			a[i] = rng.Float32()
		}
		for i := range bm {
			bm[i] = rng.Float32()
		}
		flops := 2 * float64(m) * float64(n) * float64(k)
		for _, tr := range []string{"NN", "NT", "TN"} {
			transA, transB := tr[0] == 'T', tr[1] == 'T'
			lda, ldb := k, n
			if transA {
				lda = m
			}
			if transB {
				ldb = k
			}
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, k, n, tr), func(b *testing.B) {
				for b.Loop() {
					sgemm(true, 0, transA, transB, m, n, k, 1, a, lda, bm, ldb, 1, c, n)
				}
				b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
		}
	}
}
