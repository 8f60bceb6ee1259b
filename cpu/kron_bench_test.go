package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// BenchmarkPHM times one forward plus one backward (all gradients) of PHM
// (rank 0) and LPHM (rank 1) layers at the adapter's shapes (768↔24,
// N = 2..12) on 1024 and 8192 rows, and at 3072→768 on 1024 rows, fused
// against materialise-then-GEMM (both with the package's sgemm), on all
// cores. It reports rows/s and
// GFLOP/s of the dense-equivalent work (3 products of 2·rows·in·out, the
// figure a dense layer would do), so the two algorithms' rates are
// comparable; the fused path does fewer actual FLOPs. cpu-ns/op is the
// process CPU time per operation: on a shared machine, run with -cpu 1 and
// compare it rather than ns/op.
func BenchmarkPHM(b *testing.B) {
	type shape struct{ rows, in, out, n, rank int }
	var shapes []shape
	for _, rows := range []int{1024, 8192} {
		for _, rank := range []int{0, 1} {
			for _, n := range []int{2, 4, 8, 12} {
				shapes = append(shapes, shape{rows, 768, 24, n, rank}, shape{rows, 24, 768, n, rank})
			}
		}
	}
	shapes = append(shapes, shape{1024, 3072, 768, 4, 1}, shape{1024, 3072, 768, 4, 0})
	for _, sh := range shapes {
		for _, algo := range []kernels.PHMAlgo{kernels.PHMFused, kernels.PHMMaterialize} {
			rows := sh.rows
			b.Run(fmt.Sprintf("rows=%d/%dto%d/n=%d/rank=%d/%v", rows, sh.in, sh.out, sh.n, sh.rank, algo), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, uint64(sh.in)))
				c := newKronCase(rng, rows, sh.in, sh.out, sh.n, sh.rank, true)
				a := c.args
				a.Y = make([]float32, rows*sh.out)
				a.DY = kronRand(rng, rows*sh.out)
				a.DX = make([]float32, rows*sh.in)
				a.DA = make([]float32, len(a.A))
				a.DBias = make([]float32, sh.out)
				if sh.rank == 0 {
					a.DW = make([]float32, len(a.W))
				} else {
					a.DS, a.DT = make([]float32, len(a.S)), make([]float32, len(a.T))
				}
				a.Algo = algo
				cpu0 := kronCPUTime()
				for b.Loop() {
					kronDefault.phm(&a, false)
					kronDefault.phm(&a, true)
				}
				b.ReportMetric((kronCPUTime()-cpu0)/float64(b.N)*1e9, "cpu-ns/op")
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(float64(rows)/sec, "rows/s")
				b.ReportMetric(3*2*float64(rows)*float64(sh.in)*float64(sh.out)/sec/1e9, "denseGFLOP/s")
			})
		}
	}
}

// BenchmarkKronKernels measures the skinny kernels at the LPHM's shapes
// (768→24, n = 4, rank 1: sub-rows of 192, N·r = 4) on a block of 256
// sub-rows that stays in cache, as the fused layer runs them; asm against
// the pure-Go twin, in actual GFLOP/s.
func BenchmarkKronKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 3))
	const m, p, j = 256, 192, 4
	x, st, pm := kronRand(rng, m*p), kronRand(rng, j*p), kronRand(rng, m*j)
	dst, dx := make([]float32, j*p), make([]float32, m*p)
	for _, simd := range []bool{false, true} {
		if simd && !hasAVX2FMA {
			continue
		}
		flops := 2.0 * m * p * j
		run := func(name string, f func()) {
			b.Run(fmt.Sprintf("%s/simd=%v", name, simd), func(b *testing.B) {
				for b.Loop() {
					f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("dot", func() { kronDot(simd, m, j, p, x, p, st, p, pm, j, false) })
		run("axpy", func() { kronAxpy(simd, m, p, j, pm, j, st, p, dx, p, false) })
		run("accT", func() { kronAccT(simd, m, p, j, pm, j, x, p, dst, p) })
	}
}
