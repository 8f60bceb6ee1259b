//go:build !amd64 || purego

package cpu

// sgemmKernel12x32AVX512 runs the pure-Go twin where no assembly is built.
func sgemmKernel12x32AVX512(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel12x32Generic(k, a, b, rsb, hb, c, ldc, alpha, beta)
}

// sgemmKernel6x32AVX512 runs the pure-Go twin where no assembly is built.
func sgemmKernel6x32AVX512(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel6x32Generic(k, a, b, rsb, hb, c, ldc, alpha, beta)
}

// sgemmKernel12x32StridedAVX512 runs the pure-Go twin where no assembly is
// built.
func sgemmKernel12x32StridedAVX512(k int, a []float32, rsa, csa int, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel12x32StridedGeneric(k, a, rsa, csa, b, rsb, hb, c, ldc, alpha, beta)
}
