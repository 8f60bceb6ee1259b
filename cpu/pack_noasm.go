//go:build !amd64 || purego

package cpu

// Where no assembly is built the packing kernels are their pure-Go twins.

func packBT16AVX2(dst, src []float32, ld, kc int) { packBT16Generic(dst, src, ld, kc) }
func packBN16AVX2(dst, src []float32, ld, kc int) { packBN16Generic(dst, src, ld, kc) }
func packA6NAVX2(dst, src []float32, ld, kc int)  { packA6NGeneric(dst, src, ld, kc) }
func packA6TAVX2(dst, src []float32, ld, kc int)  { packA6TGeneric(dst, src, ld, kc) }

func transposeAVX2(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	transposeGeneric(dst, ldd, src, lds, rows, cols)
}
