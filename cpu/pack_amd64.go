//go:build !purego

package cpu

// The AVX2 SGEMM packing kernels; pack_generic.go has their pure-Go twins
// and the contracts. Callers check the lengths (the assembly does not).

//go:noescape
func packBT16AVX2(dst, src []float32, ld, kc int)

//go:noescape
func packBN16AVX2(dst, src []float32, ld, kc int)

//go:noescape
func packA6NAVX2(dst, src []float32, ld, kc int)

//go:noescape
func packA6TAVX2(dst, src []float32, ld, kc int)

//go:noescape
func transposeAVX2(dst []float32, ldd int, src []float32, lds, rows, cols int)
