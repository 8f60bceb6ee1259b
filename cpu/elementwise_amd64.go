//go:build !purego

package cpu

// AVX2/FMA vector kernels (elementwise_amd64.s). Each processes len(dst)
// (or len(x)) elements; the other slices must be at least as long. dst may
// alias an input exactly.

//go:noescape
func addAVX2(dst, a, b []float32)

//go:noescape
func subAVX2(dst, a, b []float32)

//go:noescape
func mulAVX2(dst, a, b []float32)

//go:noescape
func scaleToAVX2(dst, x []float32, alpha float32)

//go:noescape
func axpbyAVX2(dst, x []float32, alpha, beta float32)

//go:noescape
func scaleMulAVX2(dst, x, w []float32, s float32)

//go:noescape
func sumSquaresAVX2(x []float32) float32

//go:noescape
func dotAVX2(x, y []float32) float32

//go:noescape
func mulAddAVX2(dst, a, b []float32, s float32)

//go:noescape
func maxAVX2(x []float32) float32
