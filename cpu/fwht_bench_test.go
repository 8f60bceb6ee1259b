package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkFWHTSizes runs the unnormalised transform of one vector at the
// sizes of the FFHT comparison (FALCONN-LIB FFHT, single thread, float, on
// a 2-core AMD EPYC: 2^10 0.41 µs, 2^12 1.76 µs, 2^15 17.0 µs, 2^20
// 0.66 ms, 2^24 14.8 ms), on one thread and on all of them, in GB/s of the
// vector read and written once. Two transforms multiply x by n, so x is
// reset to its random start every 2⌊60/logN⌋ calls, before it could
// overflow: untimed for large vectors, amortised (≤ 2 % of a call) for
// small ones.
func BenchmarkFWHTSizes(b *testing.B) {
	for _, logN := range []int{10, 12, 15, 20, 24} {
		n := 1 << logN
		x0 := opRandF32(rand.New(rand.NewPCG(4, uint64(logN))), n)
		x := make([]float32, n)
		period := 2 * (60 / logN)
		for _, threads := range []int{1, 0} {
			name := "threads=all"
			if threads == 1 {
				name = "threads=1"
			}
			b.Run(fmt.Sprintf("logN=%d/%s", logN, name), func(b *testing.B) {
				copy(x, x0)
				for i := 1; b.Loop(); i++ {
					fwht(hasAVX2FMA, threads, x, logN, 1, false)
					if i%period == 0 {
						if logN >= 16 {
							b.StopTimer()
							copy(x, x0)
							b.StartTimer()
						} else {
							copy(x, x0)
						}
					}
				}
				gbps(b, float64(8*n))
			})
		}
	}
}

// BenchmarkFWHTvsMemmove runs the unnormalised transform of one vector on
// one thread next to a copy of the same bytes (memmove), so that a noisy
// machine still gives the ratio. To rerun on a quiet machine:
//
//	go test -run '^$' -bench 'BenchmarkFWHTvsMemmove' -count 5 ./cpu | tee /tmp/fwht.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /op /tmp/fwht.txt
func BenchmarkFWHTvsMemmove(b *testing.B) {
	for _, logN := range []int{10, 12, 15, 20, 22, 24} {
		n := 1 << logN
		x0 := opRandF32(rand.New(rand.NewPCG(5, uint64(logN))), n)
		x, y := make([]float32, n), make([]float32, n)
		period := 2 * (60 / logN)
		b.Run(fmt.Sprintf("logN=%d/op=fwht", logN), func(b *testing.B) {
			copy(x, x0)
			for i := 1; b.Loop(); i++ {
				fwht(hasAVX2FMA, 1, x, logN, 1, false)
				if i%period == 0 {
					b.StopTimer()
					copy(x, x0)
					b.StartTimer()
				}
			}
			gbps(b, float64(8*n))
		})
		b.Run(fmt.Sprintf("logN=%d/op=memmove", logN), func(b *testing.B) {
			for b.Loop() {
				copy(y, x)
			}
			gbps(b, float64(8*n))
		})
	}
}
