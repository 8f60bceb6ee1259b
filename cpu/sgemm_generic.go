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
// beta = ±0, C is not read. k ≥ 1. Each sum runs over l in order, as in the
// assembly kernel.
//
// Without SIMD the kernel is bound by scalar multiplies and adds (on amd64
// two ports each, shared, so about 1.5 multiply-adds per cycle), so it is
// written for the fewest instructions per multiply-add and no spills: the
// tile is computed one column at a time, a 6×1 strip whose six accumulators
// are locals. Per k step one B element is loaded and kept in a register
// and each A element is loaded once and used once (load, multiply, add:
// three instructions per multiply-add on amd64, where Go does not fuse
// them; one FMADD plus a paired load on arm64, where it does). Six
// accumulators are enough to hide the add latency, and 6 + a few
// temporaries fit in the 15 XMM registers Go allocates on amd64; wider
// register blocks (6×2, 4×4) run out of registers there and spill, which
// measured slower. The packed case (the only one in large products) is
// unrolled by four k steps behind one bounds check each for A and B; the
// Go scheduler keeps such straight-line code in source order. In-place
// operands (skinny products) take the strided loops below.
func sgemmKernelGeneric(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	switch {
	case rsa == 1 && csa == sgemmMR && csb == sgemmNR:
		sgemmKernelPacked(k, a[:k*sgemmMR:k*sgemmMR], b[:k*sgemmNR:k*sgemmNR], c, ldc, alpha, beta)
	case rsa == 1:
		sgemmKernelColA(k, a, csa, b, csb, c, ldc, alpha, beta)
	case csa == 1:
		sgemmKernelRowA(k, a, rsa, b, csb, c, ldc, alpha, beta)
	default:
		sgemmKernelStrided(k, a, rsa, csa, b, csb, c, ldc, alpha, beta)
	}
}

// sgemmKernelPacked is sgemmKernelGeneric on a packed A panel (len(a) =
// 6k) and a packed B panel (len(b) = 16k).
func sgemmKernelPacked(k int, a, b []float32, c []float32, ldc int, alpha, beta float32) {
	const u = 4 // k steps per unrolled iteration
	for j := 0; j < sgemmNR; j++ {
		var c0, c1, c2, c3, c4, c5 float32
		i, o := 0, j // A and B offsets of step l: 6l and 16l + j
		for ; i+u*sgemmMR <= len(a); i += u * sgemmMR {
			p := a[i : i+u*sgemmMR : i+u*sgemmMR]
			q := b[o : o+(u-1)*sgemmNR+1 : o+(u-1)*sgemmNR+1]
			x := q[0]
			c0 += p[0] * x
			c1 += p[1] * x
			c2 += p[2] * x
			c3 += p[3] * x
			c4 += p[4] * x
			c5 += p[5] * x
			x = q[sgemmNR]
			c0 += p[6] * x
			c1 += p[7] * x
			c2 += p[8] * x
			c3 += p[9] * x
			c4 += p[10] * x
			c5 += p[11] * x
			x = q[2*sgemmNR]
			c0 += p[12] * x
			c1 += p[13] * x
			c2 += p[14] * x
			c3 += p[15] * x
			c4 += p[16] * x
			c5 += p[17] * x
			x = q[3*sgemmNR]
			c0 += p[18] * x
			c1 += p[19] * x
			c2 += p[20] * x
			c3 += p[21] * x
			c4 += p[22] * x
			c5 += p[23] * x
			o += u * sgemmNR
		}
		for ; i+sgemmMR <= len(a); i += sgemmMR {
			p := a[i : i+sgemmMR : i+sgemmMR]
			x := b[o]
			c0 += p[0] * x
			c1 += p[1] * x
			c2 += p[2] * x
			c3 += p[3] * x
			c4 += p[4] * x
			c5 += p[5] * x
			o += sgemmNR
		}
		sgemmStoreCol(c, j, ldc, c0, c1, c2, c3, c4, c5, alpha, beta)
	}
}

// sgemmKernelColA is sgemmKernelGeneric for rsa = 1: the six A elements of
// a k step are contiguous.
func sgemmKernelColA(k int, a []float32, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	for j := 0; j < sgemmNR; j++ {
		var c0, c1, c2, c3, c4, c5 float32
		ao, bo := 0, j
		for l := 0; l < k; l++ {
			p := a[ao : ao+sgemmMR : ao+sgemmMR]
			x := b[bo]
			c0 += p[0] * x
			c1 += p[1] * x
			c2 += p[2] * x
			c3 += p[3] * x
			c4 += p[4] * x
			c5 += p[5] * x
			ao += csa
			bo += csb
		}
		sgemmStoreCol(c, j, ldc, c0, c1, c2, c3, c4, c5, alpha, beta)
	}
}

// sgemmKernelRowA is sgemmKernelGeneric for csa = 1: each A row is a
// contiguous run of k elements.
func sgemmKernelRowA(k int, a []float32, rsa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	r0 := a[:k:k]
	r1 := a[rsa:][:k:k]
	r2 := a[2*rsa:][:k:k]
	r3 := a[3*rsa:][:k:k]
	r4 := a[4*rsa:][:k:k]
	r5 := a[5*rsa:][:k:k]
	for j := 0; j < sgemmNR; j++ {
		var c0, c1, c2, c3, c4, c5 float32
		bo := j
		for l := range r0 {
			x := b[bo]
			c0 += r0[l] * x
			c1 += r1[l] * x
			c2 += r2[l] * x
			c3 += r3[l] * x
			c4 += r4[l] * x
			c5 += r5[l] * x
			bo += csb
		}
		sgemmStoreCol(c, j, ldc, c0, c1, c2, c3, c4, c5, alpha, beta)
	}
}

// sgemmKernelStrided is sgemmKernelGeneric for any strides.
func sgemmKernelStrided(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	for j := 0; j < sgemmNR; j++ {
		var c0, c1, c2, c3, c4, c5 float32
		ao, bo := 0, j
		for l := 0; l < k; l++ {
			x := b[bo]
			c0 += a[ao] * x
			c1 += a[ao+rsa] * x
			c2 += a[ao+2*rsa] * x
			c3 += a[ao+3*rsa] * x
			c4 += a[ao+4*rsa] * x
			c5 += a[ao+5*rsa] * x
			ao += csa
			bo += csb
		}
		sgemmStoreCol(c, j, ldc, c0, c1, c2, c3, c4, c5, alpha, beta)
	}
}

// sgemmStoreCol writes alpha·(v0..v5) + beta·C[r, j] to C[r, j] for the six
// rows r of column j, without reading C when beta is 0.
func sgemmStoreCol(c []float32, j, ldc int, v0, v1, v2, v3, v4, v5, alpha, beta float32) {
	_ = c[5*ldc+j]
	if beta == 0 {
		c[j] = alpha * v0
		c[ldc+j] = alpha * v1
		c[2*ldc+j] = alpha * v2
		c[3*ldc+j] = alpha * v3
		c[4*ldc+j] = alpha * v4
		c[5*ldc+j] = alpha * v5
		return
	}
	c[j] = alpha*v0 + beta*c[j]
	c[ldc+j] = alpha*v1 + beta*c[ldc+j]
	c[2*ldc+j] = alpha*v2 + beta*c[2*ldc+j]
	c[3*ldc+j] = alpha*v3 + beta*c[3*ldc+j]
	c[4*ldc+j] = alpha*v4 + beta*c[4*ldc+j]
	c[5*ldc+j] = alpha*v5 + beta*c[5*ldc+j]
}
