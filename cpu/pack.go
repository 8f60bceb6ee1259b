package cpu

// Dispatch of the SGEMM packing kernels: simd selects the assembly
// (pack_amd64.s), else the pure-Go twin (pack_generic.go). Each checks the
// lengths its kernel reads and writes by slicing (a short slice panics here,
// before the assembly could touch memory outside it).

// packBT16 packs a full 16-column panel of Bᵀ (see packBT16Generic).
func packBT16(simd bool, dst, src []float32, ld, kc int) {
	if kc <= 0 {
		return
	}
	dst, src = dst[:kc*sgemmNR], src[:(sgemmNR-1)*ld+kc]
	if !simd {
		packBT16Generic(dst, src, ld, kc)
		return
	}
	k8 := kc &^ 7
	packBT16AVX2(dst, src, ld, k8)
	if k8 < kc {
		packBT16Generic(dst[k8*sgemmNR:], src[k8:], ld, kc-k8)
	}
}

// packBN16 packs a full 16-column panel of B (see packBN16Generic).
func packBN16(simd bool, dst, src []float32, ld, kc int) {
	if kc <= 0 {
		return
	}
	dst, src = dst[:kc*sgemmNR], src[:(kc-1)*ld+sgemmNR]
	if simd {
		packBN16AVX2(dst, src, ld, kc)
	} else {
		packBN16Generic(dst, src, ld, kc)
	}
}

// packA6N packs a full 6-row panel of A (see packA6NGeneric).
func packA6N(simd bool, dst, src []float32, ld, kc int) {
	if kc <= 0 {
		return
	}
	dst, src = dst[:kc*sgemmMR], src[:(sgemmMR-1)*ld+kc]
	if !simd {
		packA6NGeneric(dst, src, ld, kc)
		return
	}
	k8 := kc &^ 7
	packA6NAVX2(dst, src, ld, k8)
	if k8 < kc {
		packA6NGeneric(dst[k8*sgemmMR:], src[k8:], ld, kc-k8)
	}
}

// packA6T packs a full 6-row panel of Aᵀ (see packA6TGeneric).
func packA6T(simd bool, dst, src []float32, ld, kc int) {
	if kc <= 0 {
		return
	}
	dst, src = dst[:kc*sgemmMR], src[:(kc-1)*ld+sgemmMR]
	if simd {
		packA6TAVX2(dst, src, ld, kc)
	} else {
		packA6TGeneric(dst, src, ld, kc)
	}
}

// transpose writes dst[i·ldd+j] = src[j·lds+i] for i < rows, j < cols:
// 8×8 blocks through the assembly (transposeAVX2), the edges in Go.
func transpose(simd bool, dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	dst, src = dst[:(rows-1)*ldd+cols], src[:(cols-1)*lds+rows]
	r8, c8 := rows&^7, cols&^7
	if !simd || r8 == 0 || c8 == 0 {
		transposeGeneric(dst, ldd, src, lds, rows, cols)
		return
	}
	transposeAVX2(dst, ldd, src, lds, r8, c8)
	if r8 < rows { // the last rows of dst: columns r8… of src
		transposeGeneric(dst[r8*ldd:], ldd, src[r8:], lds, rows-r8, cols)
	}
	if c8 < cols { // the last columns of dst, above those rows
		transposeGeneric(dst[c8:], ldd, src[c8*lds:], lds, r8, cols-c8)
	}
}
