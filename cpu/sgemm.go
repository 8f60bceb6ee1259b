package cpu

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major slices, with
// op(A) of m×k and op(B) of k×n (see kernels.GemmParams for the layout),
// using the assembly kernels where available and all cores for large
// products. With beta = 0, C is not read.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(hasAVX2FMA, 0, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is the dispatching SGEMM: simd selects the assembly micro-kernel,
// threads the parallelism (0 = GOMAXPROCS).
// PLACEHOLDER: naive loops until the packed kernel lands.
func sgemm(simd bool, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	_, _ = simd, threads
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for l := 0; l < k; l++ {
				av := a[i*lda+l]
				if transA {
					av = a[l*lda+i]
				}
				bv := b[l*ldb+j]
				if transB {
					bv = b[j*ldb+l]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
