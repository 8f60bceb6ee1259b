package cpu

import (
	"fmt"
	"testing"
)

// BenchmarkSgemmKernel12x32 times the 12×32 AVX-512 micro-kernel alone, on
// one thread, on packed A and B panels that stay in L1/L2 (k = kc, the
// depth of one packed block): the kernel's own ceiling, to read beside
// BenchmarkFMAPeak (the core's) and BenchmarkSgemmTrans (whole products).
// "packed" reads two packed 16-wide B panels, "inplace" B rows of a
// row-major op(B) with stride 768 (the path NN products take).
func BenchmarkSgemmKernel12x32(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512")
	}
	for _, k := range []int{128, 256, 512} {
		for _, variant := range []string{"packed", "inplace"} {
			rsb, hb := 16, 16*k
			bn := 32 * k
			if variant == "inplace" {
				rsb, hb, bn = 768, 16, 768*k
			}
			a := make([]float32, 12*k)
			bm := make([]float32, bn)
			c := make([]float32, 12*32)
			for i := range a {
				a[i] = float32(i%7) * 0.125
			}
			for i := range bm {
				bm[i] = float32(i%5) * 0.25
			}
			b.Run(fmt.Sprintf("k=%d/%s", k, variant), func(b *testing.B) {
				for b.Loop() {
					sgemmKernel12x32AVX512(k, a, bm, rsb, hb, c, 32, 1, 1)
				}
				b.ReportMetric(2*12*32*float64(k)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
		}
	}
}
