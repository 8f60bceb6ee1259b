//go:build !purego

package cpu

// AVX2/FMA kernels of the Kronecker layers (kron_amd64.s), with the
// semantics of their twins in kron_generic.go. The callers check the slice
// bounds; any m, n, k ≥ 0 is handled (tails with masked loads and stores).

//go:noescape
func kronDotAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool)

//go:noescape
func kronAxpyAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool)

//go:noescape
func kronAccTAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int)

//go:noescape
func kronMixAVX2(rows, n, J int, m []float32, p []float32, q []float32)

//go:noescape
func kronMixGradAVX2(rows, n, J int, p []float32, dq []float32, dm []float32)
