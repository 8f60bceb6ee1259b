//go:build !purego

package cpu

// Walsh–Hadamard butterfly kernels (fwht_amd64.s).

// fwht64AVX2 applies levels 0..5 (spans 1..32) to every 64-element chunk of
// x; len(x) must be a multiple of 64.
//
//go:noescape
func fwht64AVX2(x []float32)

// fwhtR8AVX2 applies the levels of spans h, 2h, 4h to the eight rows
// x[j+k·h], k < 8, for j < w: len(x) ≥ 7h+w, w a multiple of 8.
//
//go:noescape
func fwhtR8AVX2(x []float32, h, w int)

// fwhtR4AVX2 applies the levels of spans h, 2h to the four rows x[j+k·h].
//
//go:noescape
func fwhtR4AVX2(x []float32, h, w int)

// fwhtR2AVX2 applies the level of span h to the rows x[j], x[j+h].
//
//go:noescape
func fwhtR2AVX2(x []float32, h, w int)
