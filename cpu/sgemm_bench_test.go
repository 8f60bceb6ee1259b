package cpu

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// sgemmBenchShapes are the T5 products M×K×N of the issue (attention and
// feed-forward projections of t5-base at 1024 tokens, 4096 for a bigger
// batch), then skinny PHM-layer shapes.
var sgemmBenchShapes = [][3]int{
	{1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 768}, {4096, 768, 768},
	{1024, 768, 24}, {4096, 6, 4}, {1, 768, 3072}, {4096, 768, 1},
}

// BenchmarkSgemm times C = A·B for each shape at one thread and at
// GOMAXPROCS threads, for the pure-Go kernel ("purego"), the assembly one
// ("simd") and gonum's native Sgemm ("gonum", run with GOMAXPROCS set to the
// thread count) side by side, reporting GFLOP/s. The skinny PHM shapes run
// the simd variant only. The OpenBLAS comparison is in bench/blas.
func BenchmarkSgemm(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	for si, s := range sgemmBenchShapes {
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
		for _, threads := range []int{1, procs} {
			for _, variant := range []string{"purego", "simd", "gonum"} {
				if variant == "simd" && !hasAVX2FMA || si >= 4 && variant != "simd" {
					continue
				}
				name := fmt.Sprintf("%dx%dx%d/t%d/%s", m, k, n, threads, variant)
				b.Run(name, func(b *testing.B) {
					if variant == "gonum" {
						defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
					}
					for b.Loop() {
						if variant == "gonum" {
							gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bm, n, 0, c, n)
						} else {
							sgemm(variant == "simd", threads, false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
						}
					}
					b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
				})
			}
		}
	}
}
