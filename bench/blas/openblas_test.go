//go:build openblas && cgo

package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
)

// shapes are the T5 products M×K×N of the SGEMM issue.
var shapes = [][3]int{{1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 768}, {4096, 768, 768}}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// TestOpenBLASMatchesCPU checks the OpenBLAS wrapper (and so the benchmark's
// baseline) against cpu.Sgemm on every transpose combination with padded
// leading dimensions.
func TestOpenBLASMatchesCPU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const m, n, k, pad = 37, 29, 71, 3
	for tr := 0; tr < 4; tr++ {
		tA, tB := tr&1 != 0, tr&2 != 0
		ar, ac, br, bc := m, k, k, n
		if tA {
			ar, ac = k, m
		}
		if tB {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+pad, bc+pad, n+pad
		a, b := randSlice(rng, (ar-1)*lda+ac), randSlice(rng, (br-1)*ldb+bc)
		c0 := randSlice(rng, m*ldc)
		c1 := append([]float32(nil), c0...)
		Sgemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, -2, c0, ldc)
		cpu.Sgemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, -2, c1, ldc)
		var num, den float64
		for i := range c0 {
			d := float64(c0[i] - c1[i])
			num += d * d
			den += float64(c0[i]) * float64(c0[i])
		}
		if e := math.Sqrt(num / den); e > 1e-5 {
			t.Fatalf("transA=%v transB=%v: relative difference %.3g > 1e-5", tA, tB, e)
		}
	}
}

// BenchmarkSgemm times C = A·B for the T5 shapes at one thread and at
// GOMAXPROCS threads: the pure-Go and assembly CPU backends (through
// Backend.Gemm), gonum's native Sgemm (with GOMAXPROCS set to the thread
// count) and OpenBLAS (with openblas_set_num_threads), reporting GFLOP/s.
func BenchmarkSgemm(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	defer SetThreads(procs)
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 1))
		a, bm, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		flops := 2 * float64(m) * float64(n) * float64(k)
		for _, threads := range []int{1, procs} {
			for _, variant := range []string{"purego", "simd", "gonum", "openblas"} {
				if variant == "simd" && !cpu.SIMD() {
					continue
				}
				b.Run(fmt.Sprintf("%dx%dx%d/t%d/%s", m, k, n, threads, variant), func(b *testing.B) {
					run := backendGemm(b, variant == "purego", threads, m, n, k, a, bm)
					switch variant {
					case "gonum":
						defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
						run = func() {
							gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bm, n, 0, c, n)
						}
					case "openblas":
						SetThreads(threads)
						run = func() { Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n) }
					}
					for b.Loop() {
						run()
					}
					b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
				})
			}
		}
	}
}

// backendGemm returns a function running C = A·B on a CPU backend with the
// given threads (pure Go or assembly), operands uploaded once.
func backendGemm(b *testing.B, pureGo bool, threads, m, n, k int, a, bm []float32) func() {
	be := cpu.New(cpu.Options{Threads: threads, PureGo: pureGo})
	alloc := func(src []float32, n int) kernels.Buffer {
		buf, err := be.Alloc(kernels.Float32, n)
		if err != nil {
			b.Fatal(err)
		}
		if src != nil {
			if err := be.Upload(buf, src); err != nil {
				b.Fatal(err)
			}
		}
		return buf
	}
	p := kernels.GemmParams{M: m, N: n, K: k, Alpha: 1, A: alloc(a, m*k), B: alloc(bm, k*n), C: alloc(nil, m*n)}
	return func() {
		if err := be.Gemm(p); err != nil {
			b.Fatal(err)
		}
	}
}

// stepShapes are the products of a T5 training step M×K×N as the step
// calls them, with whether B is transposed: the linear layers of t5-small
// and t5-base at 1,024 rows (batch 8 × 128 tokens; forward x·Wᵀ, backward
// dy·W), the LM head both ways, and 128-row products (the 16-token decoder
// of batch 8). They are bench/pytorch/sgemm_rate.py's shapes, so the two
// give the FLOP limit of RESULTS.md from the same products.
var stepShapes = []struct {
	m, k, n int
	transB  bool
}{
	{1024, 512, 512, true}, {1024, 512, 2048, true}, {1024, 2048, 512, true}, {1024, 512, 512, false},
	{1024, 512, 32128, true}, {1024, 32128, 512, false},
	{1024, 768, 768, true}, {1024, 768, 3072, true}, {1024, 3072, 768, true}, {1024, 768, 768, false},
	{128, 512, 512, true}, {128, 768, 3072, true},
}

// BenchmarkSgemmStep times the training step's products (stepShapes) at
// GOMAXPROCS threads on the assembly CPU backend ("simd", through
// Backend.Gemm) and OpenBLAS ("openblas"), reporting GFLOP/s. Run each
// implementation in its own process, alternating (make bench-openblas-step):
// OpenBLAS's threads spin after a call and slow whatever runs next.
func BenchmarkSgemmStep(b *testing.B) {
	threads := runtime.GOMAXPROCS(0)
	defer SetThreads(threads)
	for _, s := range stepShapes {
		m, k, n := s.m, s.k, s.n
		rng := rand.New(rand.NewPCG(1, 1))
		a, bm, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		ldb, tr := n, "NN"
		if s.transB {
			ldb, tr = k, "NT"
		}
		flops := 2 * float64(m) * float64(n) * float64(k)
		for _, variant := range []string{"simd", "openblas"} {
			if variant == "simd" && !cpu.SIMD() {
				continue
			}
			b.Run(fmt.Sprintf("%dx%dx%d/%s/t%d/%s", m, k, n, tr, threads, variant), func(b *testing.B) {
				var run func()
				if variant == "openblas" {
					SetThreads(threads)
					run = func() { Sgemm(false, s.transB, m, n, k, 1, a, k, bm, ldb, 0, c, n) }
				} else {
					be := cpu.New(cpu.Options{Threads: threads})
					buf := func(src []float32, n int) kernels.Buffer {
						x, err := be.Alloc(kernels.Float32, n)
						if err == nil && src != nil {
							err = be.Upload(x, src)
						}
						if err != nil {
							b.Fatal(err)
						}
						return x
					}
					p := kernels.GemmParams{M: m, N: n, K: k, Alpha: 1, TransB: s.transB,
						A: buf(a, m*k), B: buf(bm, k*n), C: buf(nil, m*n)}
					run = func() {
						if err := be.Gemm(p); err != nil {
							b.Fatal(err)
						}
					}
				}
				run() // warm-up: pools, OpenBLAS's threads
				for b.Loop() {
					run()
				}
				b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
		}
	}
}
