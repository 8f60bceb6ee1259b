package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzSgemm holds the assembly SGEMM to the pure-Go one (same blocking and
// packing) on fuzzed shapes, transposes, padding and scalars.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(33), uint8(0), uint8(0), int8(2), int8(0), uint64(1))
	f.Add(uint8(65), uint8(24), uint8(200), uint8(3), uint8(5), int8(-3), int8(1), uint64(2))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), int8(0), int8(-2), uint64(3))
	f.Fuzz(func(t *testing.T, m8, n8, k8, tr, pad uint8, alpha8, beta8 int8, seed uint64) {
		if !hasAVX2FMA {
			t.Skip("no AVX2+FMA kernels in this build")
		}
		tc := sgemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: int(m8), n: int(n8), k: int(k8), pad: int(pad % 9),
			alpha: float32(alpha8) / 4, beta: float32(beta8) / 4}
		rng := rand.New(rand.NewPCG(seed, 9))
		a, lda, b, ldb, c, ldc := sgemmOperands(rng, tc)
		c2 := append([]float32(nil), c...)
		sgemm(false, 1+int(tr>>2)%3, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		sgemm(true, 1+int(tr>>4)%3, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c2, ldc)
		// Both sum the same products in the same order; they differ only in
		// FMA versus separate rounding, bounded by k·ε·Σ|terms| ≤ k·ε·(|alpha|·k+|beta|).
		bound := float64(tc.k+2) * 6e-8 * (math.Abs(float64(tc.alpha))*float64(tc.k) + math.Abs(float64(tc.beta)) + 1)
		for i := range c {
			x, y := c[i], c2[i]
			if math.IsNaN(float64(x)) || math.IsNaN(float64(y)) || math.Abs(float64(x-y)) > bound {
				t.Fatalf("%v: C[%d] generic %g, simd %g (bound %g)", tc, i, x, y, bound)
			}
		}
	})
}
