//go:build !amd64 || purego

package cpu

// sgemmKernelAVX2 runs the pure-Go micro-kernel where no assembly is built.
func sgemmKernelAVX2(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGeneric(k, a, rsa, csa, b, csb, c, ldc, alpha, beta)
}
