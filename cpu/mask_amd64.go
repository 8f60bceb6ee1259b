//go:build !purego

package cpu

// The AVX2 sign-mask kernels; mask_generic.go has their pure-Go twins.
// Both take whole words: len(x) = 32·len(m).

//go:noescape
func packPositiveAVX2(m []int32, x []float32)

//go:noescape
func applyMaskAVX2(d, x []float32, m []int32)
