package cpu

// Pure-Go twins of the SGEMM packing kernels (pack_amd64.s), and their
// contracts. Row-major src with row stride ld; dst is one packed panel.

// packBT16Generic packs a full 16-column panel of op(B) = Bᵀ:
// dst[l·16+x] = src[x·ld+l] for x < 16, l < kc.
func packBT16Generic(dst, src []float32, ld, kc int) {
	dst = dst[:kc*sgemmNR]
	for x := 0; x < sgemmNR; x++ {
		o := x * ld
		for l, v := range src[o : o+kc] {
			dst[l*sgemmNR+x] = v
		}
	}
}

// packBN16Generic packs a full 16-column panel of op(B) = B:
// dst[l·16+x] = src[l·ld+x] for x < 16, l < kc.
func packBN16Generic(dst, src []float32, ld, kc int) {
	for l := 0; l < kc; l++ {
		o := l * ld
		*(*[sgemmNR]float32)(dst[l*sgemmNR : (l+1)*sgemmNR]) = *(*[sgemmNR]float32)(src[o : o+sgemmNR])
	}
}

// packA6NGeneric packs a full 6-row panel of op(A) = A:
// dst[l·6+r] = src[r·ld+l] for r < 6, l < kc.
func packA6NGeneric(dst, src []float32, ld, kc int) {
	r0 := src[:kc]
	// Equal lengths let the compiler drop the bounds checks below.
	r1 := src[ld:][:len(r0)]
	r2 := src[2*ld:][:len(r0)]
	r3 := src[3*ld:][:len(r0)]
	r4 := src[4*ld:][:len(r0)]
	r5 := src[5*ld:][:len(r0)]
	pan := dst[:len(r0)*sgemmMR]
	for l := range r0 {
		p := (*[sgemmMR]float32)(pan[l*sgemmMR : l*sgemmMR+sgemmMR])
		p[0], p[1], p[2], p[3], p[4], p[5] = r0[l], r1[l], r2[l], r3[l], r4[l], r5[l]
	}
}

// packA6TGeneric packs a full 6-row panel of op(A) = Aᵀ:
// dst[l·6+r] = src[l·ld+r] for r < 6, l < kc.
func packA6TGeneric(dst, src []float32, ld, kc int) {
	for l := 0; l < kc; l++ {
		o := l * ld
		*(*[sgemmMR]float32)(dst[l*sgemmMR : (l+1)*sgemmMR]) = *(*[sgemmMR]float32)(src[o : o+sgemmMR])
	}
}

// transposeGeneric writes the transpose of a rows×cols block:
// dst[i·ldd+j] = src[j·lds+i] for i < rows, j < cols (src is cols×rows).
func transposeGeneric(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	for j := 0; j < cols; j++ {
		s := src[j*lds : j*lds+rows]
		for i, v := range s {
			dst[i*ldd+j] = v
		}
	}
}
