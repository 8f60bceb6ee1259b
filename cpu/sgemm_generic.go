package cpu

// sgemmKernelGeneric is the pure-Go twin of sgemmKernelAVX2, the SGEMM
// micro-kernel. It computes one sgemmMR×sgemmNR tile
//
//	C[r, j] = alpha·Σ_l A[r, l]·B[l, j] + beta·C[r, j]   (r < 6, j < 16, l < k)
//
// where A[r, l] = a[r·rsa + l·csa] (a packed panel has rsa = 1, csa = 6; an
// unpacked row-major block rsa = lda, csa = 1; a transposed one rsa = 1,
// csa = lda), B[l, j] = b[l·csb + j] (a packed panel has csb = 16, an
// unpacked row-major block csb = ldb) and C[r, j] = c[r·ldc + j]. With
// beta = ±0, C is not read. k ≥ 1.
//
// Go keeps neither an array accumulator nor SIMD lanes in registers, so the
// tile is computed in 2×4 sub-tiles whose eight accumulators are locals:
// per k step 6 loads feed 8 multiply-adds (the compiler fuses them into FMA
// instructions where the architecture has them, as on arm64).
func sgemmKernelGeneric(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	_ = a[(sgemmMR-1)*rsa+(k-1)*csa]
	_ = b[(k-1)*csb+sgemmNR-1]
	for r := 0; r < sgemmMR; r += 2 {
		a0, a1 := r*rsa, (r+1)*rsa
		for j := 0; j < sgemmNR; j += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			ao, bo := 0, j
			for l := 0; l < k; l++ {
				bl := b[bo : bo+4 : bo+4]
				b0, b1, b2, b3 := bl[0], bl[1], bl[2], bl[3]
				x, y := a[a0+ao], a[a1+ao]
				c00 += x * b0
				c01 += x * b1
				c02 += x * b2
				c03 += x * b3
				c10 += y * b0
				c11 += y * b1
				c12 += y * b2
				c13 += y * b3
				ao += csa
				bo += csb
			}
			sgemmStore4(c[r*ldc+j:], c00, c01, c02, c03, alpha, beta)
			sgemmStore4(c[(r+1)*ldc+j:], c10, c11, c12, c13, alpha, beta)
		}
	}
}

// sgemmStore4 writes alpha·(v0..v3) + beta·c[0:4] to c[0:4], without
// reading c when beta is 0.
func sgemmStore4(c []float32, v0, v1, v2, v3, alpha, beta float32) {
	c = c[:4:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}
