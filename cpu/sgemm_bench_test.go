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

// sgemmT5Shapes are the T5 products M×K×N of the pure-Go comparison, each
// as A·B ("NN"), A·Bᵀ ("NT", a linear layer with PyTorch-layout weights) and
// Aᵀ·B ("TN", a weight gradient).
var sgemmT5Shapes = [][3]int{{1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 768}, {4096, 768, 768}}

// BenchmarkSgemmPureGo compares the pure-Go SGEMM ("ours": the kernel every
// build without assembly runs, -tags purego or a non-amd64 GOARCH) with
// gonum's native Sgemm ("gonum", or "gonum-noasm" when built with gonum's
// noasm tag) on one thread, reporting GFLOP/s of wall time and of process
// CPU time (GFLOP/cpu-s: on a shared machine, the work rate while the
// benchmark had a core; the two agree on an idle one). For interleaved
// rounds run the compiled binary once per variant in turn, e.g.
//
//	go test -c -tags purego -o sgemm.test ./cpu/
//	for i in 1 2 3 4 5 6; do for v in ours gonum; do
//	  ./sgemm.test -test.run XXX -test.bench "SgemmPureGo/.*/.*/impl=$v" -test.benchtime 3x
//	done; done | tee out.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl out.txt
func BenchmarkSgemmPureGo(b *testing.B) {
	for _, s := range sgemmT5Shapes {
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
			ta, tb := blas.NoTrans, blas.NoTrans
			if transA {
				lda, ta = m, blas.Trans
			}
			if transB {
				ldb, tb = k, blas.Trans
			}
			for _, impl := range []string{"ours", sgemmGonumName} {
				b.Run(fmt.Sprintf("%dx%dx%d/%s/impl=%s", m, k, n, tr, impl), func(b *testing.B) {
					// The testing package sets GOMAXPROCS (-cpu) for each
					// leaf benchmark; gonum would use all of them.
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
					cpu0 := kronCPUTime()
					for b.Loop() {
						if impl == "ours" {
							sgemm(false, 1, transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
						} else {
							gonum.Implementation{}.Sgemm(ta, tb, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
						}
					}
					b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
					if cpu := kronCPUTime() - cpu0; cpu > 0 {
						b.ReportMetric(flops*float64(b.N)/cpu/1e9, "GFLOP/cpu-s")
					}
				})
			}
		}
	}
}

// BenchmarkSgemmHeads times one item of attention's per-head products on
// one thread, the operands read in place from [rows, 768] projections (12
// heads of 64) as t5-base's in-place attention reads them: the encoder's
// 128-token products and the decoder's 16-token ones of GLUE targets.
func BenchmarkSgemmHeads(b *testing.B) {
	const ld = 768
	q := make([]float32, 1024*ld)
	k := make([]float32, 1024*ld)
	s := make([]float32, 128*128)
	for i := range q {
		q[i], k[i] = float32(i%7)*0.1, float32(i%5)*0.1
	}
	for _, sh := range []struct {
		name    string
		transB  bool
		m, n, k int
	}{
		{"scores", true, 128, 128, 64}, {"context", false, 128, 64, 128},
		{"dec-scores", true, 16, 16, 64}, {"dec-cross-scores", true, 16, 128, 64}, {"dec-cross-context", false, 16, 64, 128},
	} {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", sh.name, sh.m, sh.k, sh.n), func(b *testing.B) {
			h := 0
			for b.Loop() {
				off := 64 * (h % 12)
				if sh.transB { // S = q_h·k_hᵀ
					sgemm(hasAVX2FMA, 1, false, true, sh.m, sh.n, sh.k, 1, q[off:], ld, k[off:], ld, 0, s, sh.n)
				} else { // ctx_h = P·v_h
					sgemm(hasAVX2FMA, 1, false, false, sh.m, sh.n, sh.k, 1, s, sh.k, k[off:], ld, 0, q[off:], ld)
				}
				h++
			}
			b.ReportMetric(2*float64(sh.m*sh.n*sh.k)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
		})
	}
}
