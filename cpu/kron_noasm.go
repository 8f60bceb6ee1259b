//go:build !amd64 || purego

package cpu

func kronDotAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	kronDotGeneric(m, n, k, a, lda, b, ldb, c, ldc, acc)
}

func kronAxpyAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	kronAxpyGeneric(m, n, k, a, lda, b, ldb, c, ldc, acc)
}

func kronAccTAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	kronAccTGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func kronMixAVX2(rows, n, J int, m []float32, p []float32, q []float32) {
	kronMixGeneric(rows, n, J, m, p, q)
}

func kronMixGradAVX2(rows, n, J int, p []float32, dq []float32, dm []float32) {
	kronMixGradGeneric(rows, n, J, p, dq, dm)
}
