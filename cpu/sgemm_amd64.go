//go:build !purego

package cpu

// sgemmKernelAVX2 is the 6×16 AVX2+FMA micro-kernel; see sgemmKernelGeneric
// for the contract.
//
//go:noescape
func sgemmKernelAVX2(k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32)
