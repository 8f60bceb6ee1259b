//go:build !purego

package cpu

// fmaPeakAVX512 runs n iterations of 12 independent zmm FMAs
// (acc += 1·1, 16 lanes each) and returns lane 0 of the first
// accumulator; see fmaPeakGeneric.
//
//go:noescape
func fmaPeakAVX512(n int) float32

// fmaPeakAVX2 is fmaPeakAVX512 on 12 ymm accumulators of 8 lanes.
//
//go:noescape
func fmaPeakAVX2(n int) float32
