package cpu

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// TestFMAPeakCounts holds each FMA ceiling loop to its count: after n
// iterations its first accumulator (the mean of all eight in the pure-Go
// loop) is n, so a loop that skipped or repeated iterations fails here.
func TestFMAPeakCounts(t *testing.T) {
	for _, v := range []string{"avx512", "avx2", "purego"} {
		for _, n := range []int{0, 1, 7, 1000, 123457} {
			if got, _ := fmaPeak(v, n); got != float32(n) {
				t.Errorf("%s n=%d: accumulator %v, want %d", v, n, got, n)
			}
		}
	}
}

// BenchmarkFMAPeak measures the ceiling SGEMM and the training step are
// held to (bench/RESULTS.md): register-only FMA loops, 12 independent
// accumulators, on 1 and GOMAXPROCS threads, for the AVX-512 (zmm), AVX2
// (ymm) and pure-Go (scalar) loops, reporting GFLOP/s of all threads
// together. Variants the CPU lacks run the pure-Go loop and are skipped.
func BenchmarkFMAPeak(b *testing.B) {
	const n = 1 << 22
	for _, v := range []string{"avx512", "avx2", "purego"} {
		if v == "avx512" && !hasAVX512 || v == "avx2" && !hasAVX2FMA {
			continue
		}
		for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/t%d", v, threads), func(b *testing.B) {
				_, flops := fmaPeak(v, n) // a warm-up run, and its operation count
				for b.Loop() {
					var wg sync.WaitGroup
					for range threads {
						wg.Add(1)
						go func() {
							defer wg.Done()
							fmaPeak(v, n)
						}()
					}
					wg.Wait()
				}
				total := float64(b.N) * float64(threads) * flops
				b.ReportMetric(total/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
		}
	}
}
