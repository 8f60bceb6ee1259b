package cpu

// The FMA ceiling of this CPU: loops of independent multiply-adds on
// registers only, no memory, so a benchmark can state how close SGEMM and
// the training step come to what the cores can do at all (BenchmarkFMAPeak).

// fmaPeakChains is the number of independent accumulators of each loop:
// enough to cover the FMA latency (4 cycles) on two ports.
const fmaPeakChains = 12

// fmaPeak runs n iterations of the widest FMA loop this build and CPU have
// ("avx512", "avx2" or "purego", as variant names it) and returns the value
// every accumulator ends with (n: each iteration adds 1·1 to it)
// and the floating-point operations done.
func fmaPeak(variant string, n int) (acc float32, flops float64) {
	switch {
	case variant == "avx512" && hasAVX512:
		return fmaPeakAVX512(n), float64(n) * fmaPeakChains * 16 * 2
	case variant == "avx2" && hasAVX2FMA:
		return fmaPeakAVX2(n), float64(n) * fmaPeakChains * 8 * 2
	default:
		return fmaPeakGeneric(n), float64(n) * 8 * 2
	}
}
