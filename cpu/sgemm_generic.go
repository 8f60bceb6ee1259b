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
func sgemmKernelGeneric(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	var acc [sgemmMR][sgemmNR]float32
	for l := 0; l < k; l++ {
		bl := (*[sgemmNR]float32)(b[l*csb:])
		o := l * csa
		for r := range acc {
			ar := a[o+r*rsa]
			row := &acc[r]
			for j, bv := range bl {
				row[j] += ar * bv
			}
		}
	}
	for r := range acc {
		cr := (*[sgemmNR]float32)(c[r*ldc:])
		row := &acc[r]
		if beta == 0 {
			for j := range cr {
				cr[j] = alpha * row[j]
			}
		} else {
			for j := range cr {
				cr[j] = alpha*row[j] + beta*cr[j]
			}
		}
	}
}
