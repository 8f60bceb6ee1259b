package cpu

// sgemmKernel12x32Generic is the pure-Go twin of sgemmKernel12x32AVX512,
// the wide SGEMM micro-kernel of CPUs with AVX-512: one 12×32 tile of C
// from two consecutive packed A panels of the sgemmMR layout and 32
// columns of B,
//
//	C[r, j] = alpha·Σ_l A[r, l]·B[l, j] + beta·C[r, j]   (r < 12, j < 32, l < k)
//
// where A[r, l] = a[(r/6)·6k + l·6 + r%6], B[l, j] = b[l·rsb + (j/16)·hb +
// j%16] and C[r, j] = c[r·ldc + j]. Two consecutive packed B panels are
// rsb = 16, hb = 16k; op(B) read in place (no transpose, row stride ldb)
// is rsb = ldb, hb = 16. It is the four 6×16 quarters of
// sgemmKernelGeneric, and the assembly runs the same FMAs in the same
// order as sgemmKernelAVX2 on each quarter. With beta = ±0, C is not read.
// k ≥ 1.
func sgemmKernel12x32Generic(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32) {
	pa := k * sgemmMR
	for p := range 2 {
		for q := range 2 {
			sgemmKernelGeneric(k, a[p*pa:], 1, sgemmMR, b[q*hb:], rsb, c[p*sgemmMR*ldc+q*sgemmNR:], ldc, alpha, beta)
		}
	}
}

// sgemmKernel6x32Generic is the pure-Go twin of sgemmKernel6x32AVX512, the
// wide kernel's partner for a block's odd A panel: one 6×32 tile of C from
// one packed A panel and 32 columns of B,
//
//	C[r, j] = alpha·Σ_l A[r, l]·B[l, j] + beta·C[r, j]   (r < 6, j < 32, l < k)
//
// with A[r, l] = a[l·6 + r] and B, C as in sgemmKernel12x32Generic: the two
// 6×16 halves of sgemmKernelGeneric, the same FMAs in the same order per
// element as sgemmKernelAVX2. With beta = ±0, C is not read. k ≥ 1.
func sgemmKernel6x32Generic(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32) {
	for q := range 2 {
		sgemmKernelGeneric(k, a, 1, sgemmMR, b[q*hb:], rsb, c[q*sgemmNR:], ldc, alpha, beta)
	}
}

// sgemmKernel12x32StridedGeneric is the pure-Go twin of
// sgemmKernel12x32StridedAVX512: the 12×32 kernel of
// sgemmKernel12x32Generic with A read in place through a row and a k
// stride instead of from two packed panels,
//
//	C[r, j] = alpha·Σ_l A[r, l]·B[l, j] + beta·C[r, j]   (r < 12, j < 32, l < k)
//
// where A[r, l] = a[r·rsa + l·csa] (op(A) itself: rsa = lda, csa = 1, or
// transposed rsa = 1, csa = lda) and B, C are as in
// sgemmKernel12x32Generic. It runs the same FMAs in the same order as the
// packed kernel on a packed copy of the same rows. With beta = ±0, C is not
// read. k ≥ 1.
func sgemmKernel12x32StridedGeneric(k int, a []float32, rsa, csa int, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32) {
	for p := range 2 {
		for q := range 2 {
			sgemmKernelGeneric(k, a[p*sgemmMR*rsa:], rsa, csa, b[q*hb:], rsb, c[p*sgemmMR*ldc+q*sgemmNR:], ldc, alpha, beta)
		}
	}
}
