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
