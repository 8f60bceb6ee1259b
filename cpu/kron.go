package cpu

// Dispatch of the Kronecker kernels (kron_generic.go, kron_amd64.s). The
// wrappers check that every slice covers the rows it names, so the
// assembly, which does no bounds checks, cannot run off a slice.

// kronSpan is the number of elements a rows×cols matrix with leading dimension
// ld occupies.
func kronSpan(rows, cols, ld int) int {
	if rows <= 0 || cols <= 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func kronCheckSpan(s []float32, rows, cols, ld int) {
	if n := kronSpan(rows, cols, ld); len(s) < n || (n > 0 && ld < cols) {
		panic("cpu: kron kernel slice out of range")
	}
}

// kronDot computes C = A·Bᵀ (C += A·Bᵀ with acc) for A of m×k, B of n×k and
// C of m×n.
func kronDot(simd bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	if m <= 0 || n <= 0 {
		return
	}
	kronCheckSpan(a, m, k, lda)
	kronCheckSpan(b, n, k, ldb)
	kronCheckSpan(c, m, n, ldc)
	if simd {
		kronDotAVX2(m, n, k, a, lda, b, ldb, c, ldc, acc)
	} else {
		kronDotGeneric(m, n, k, a, lda, b, ldb, c, ldc, acc)
	}
}

// kronAxpy computes C = A·B (C += A·B with acc) for A of m×k, B of k×n and
// C of m×n.
func kronAxpy(simd bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	if m <= 0 || n <= 0 {
		return
	}
	kronCheckSpan(a, m, k, lda)
	kronCheckSpan(b, k, n, ldb)
	kronCheckSpan(c, m, n, ldc)
	if simd {
		kronAxpyAVX2(m, n, k, a, lda, b, ldb, c, ldc, acc)
	} else {
		kronAxpyGeneric(m, n, k, a, lda, b, ldb, c, ldc, acc)
	}
}

// kronAccT accumulates C += Aᵀ·B for A of m×k, B of m×n and C of k×n.
func kronAccT(simd bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	kronCheckSpan(a, m, k, lda)
	kronCheckSpan(b, m, n, ldb)
	kronCheckSpan(c, k, n, ldc)
	if simd {
		kronAccTAVX2(m, n, k, a, lda, b, ldb, c, ldc)
	} else {
		kronAccTGeneric(m, n, k, a, lda, b, ldb, c, ldc)
	}
}

// kronMix computes Q[c,:] = Σ_a M[a,c,:] ⊙ P[a,:] for rows rows of n×J
// matrices P and Q (M of n·n·J elements).
func kronMix(simd bool, rows, n, J int, m, p, q []float32) {
	if rows <= 0 || n <= 0 || J <= 0 {
		return
	}
	if len(m) < n*n*J || len(p) < rows*n*J || len(q) < rows*n*J {
		panic("cpu: kron kernel slice out of range")
	}
	if simd {
		kronMixAVX2(rows, n, J, m, p, q)
	} else {
		kronMixGeneric(rows, n, J, m, p, q)
	}
}

// kronMixGrad accumulates dM[a,c,:] += Σ_rows P[a,:] ⊙ dQ[c,:].
func kronMixGrad(simd bool, rows, n, J int, p, dq, dm []float32) {
	if rows <= 0 || n <= 0 || J <= 0 {
		return
	}
	if len(dm) < n*n*J || len(p) < rows*n*J || len(dq) < rows*n*J {
		panic("cpu: kron kernel slice out of range")
	}
	if simd {
		kronMixGradAVX2(rows, n, J, p, dq, dm)
	} else {
		kronMixGradGeneric(rows, n, J, p, dq, dm)
	}
}
