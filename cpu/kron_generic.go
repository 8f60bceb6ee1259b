package cpu

// Pure-Go twins of the skinny-matrix kernels of the Kronecker (PHM/LPHM)
// layers. They are the reference semantics of the assembly in kron_amd64.s
// and run on every architecture and under the purego tag. All matrices are
// row-major with the given leading dimensions (in elements); the callers
// (kron.go) check that the slices are long enough.

// kronDotGeneric computes C[i,j] = Σ_l A[i,l]·B[j,l] (C = A·Bᵀ) for i < m,
// j < n, l < k, adding to C when acc is set. It suits products whose n is
// small (a few columns) and whose k is long: every output is a dot product
// of two contiguous rows.
func kronDotGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		if k == 0 {
			if !acc {
				clear(cr)
			}
			continue
		}
		ar := a[i*lda : i*lda+k]
		for j := range cr {
			br := b[j*ldb : j*ldb+k]
			var s float32
			for l, v := range ar {
				s += v * br[l]
			}
			if acc {
				cr[j] += s
			} else {
				cr[j] = s
			}
		}
	}
}

// kronAxpyGeneric computes C[i,:n] = Σ_l A[i,l]·B[l,:n] (C = A·B) for i < m,
// l < k, adding to C when acc is set. It suits products whose k is small:
// every output row is a short combination of rows of B.
func kronAxpyGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		if !acc {
			clear(cr)
		}
		for l := 0; l < k; l++ {
			s := a[i*lda+l]
			br := b[l*ldb : l*ldb+n]
			for t, v := range br {
				cr[t] += s * v
			}
		}
	}
}

// kronAccTGeneric accumulates C[j,:n] += Σ_i A[i,j]·B[i,:n] (C += Aᵀ·B) for
// j < k, i < m. It suits weight gradients: a long reduction over m rows into
// a small C of k rows.
func kronAccTGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		br := b[i*ldb : i*ldb+n]
		for j := 0; j < k; j++ {
			s := a[i*lda+j]
			cr := c[j*ldc : j*ldc+n]
			for t, v := range br {
				cr[t] += s * v
			}
		}
	}
}

// kronMixGeneric computes, for each of rows rows of n×J matrices P and Q,
// Q[c,:] = Σ_a M[a,c,:] ⊙ P[a,:], with M of shape [n, n, J]: the N×N mixing
// of the fused LPHM (M[a,c,(i,k)] = A[i,a,c]). With M transposed in its
// first two axes it is the mixing's backward.
func kronMixGeneric(rows, n, J int, m, p, q []float32) {
	nj := n * J
	for r := 0; r < rows; r++ {
		pr, qr := p[r*nj:(r+1)*nj], q[r*nj:(r+1)*nj]
		for c := 0; c < n; c++ {
			qc := qr[c*J : (c+1)*J]
			clear(qc)
			for a := 0; a < n; a++ {
				w := m[(a*n+c)*J : (a*n+c+1)*J]
				pa := pr[a*J : (a+1)*J]
				w, pa = w[:len(qc)], pa[:len(qc)]
				for j := range qc {
					qc[j] += w[j] * pa[j]
				}
			}
		}
	}
}

// kronMixGradGeneric accumulates dM[a,c,:] += Σ_rows P[a,:] ⊙ dQ[c,:]
// over rows rows of n×J matrices: the gradient of kronMixGeneric's M.
func kronMixGradGeneric(rows, n, J int, p, dq, dm []float32) {
	nj := n * J
	for r := 0; r < rows; r++ {
		pr, gr := p[r*nj:(r+1)*nj], dq[r*nj:(r+1)*nj]
		for a := 0; a < n; a++ {
			pa := pr[a*J : (a+1)*J]
			for c := 0; c < n; c++ {
				d := dm[(a*n+c)*J : (a*n+c+1)*J]
				g := gr[c*J : (c+1)*J]
				d, pa := d[:len(g)], pa[:len(g)]
				for j := range g {
					d[j] += pa[j] * g[j]
				}
			}
		}
	}
}
