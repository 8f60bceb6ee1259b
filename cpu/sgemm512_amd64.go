//go:build !purego

package cpu

// sgemmKernel12x32AVX512 is the 12×32 AVX-512 micro-kernel; see
// sgemmKernel12x32Generic for the contract.
//
//go:noescape
func sgemmKernel12x32AVX512(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)

// sgemmKernel6x32AVX512 is the 6×32 AVX-512 micro-kernel for the odd A
// panel of a block; see sgemmKernel6x32Generic for the contract.
//
//go:noescape
func sgemmKernel6x32AVX512(k int, a []float32, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)

// sgemmKernel12x32StridedAVX512 is the 12×32 AVX-512 micro-kernel reading
// A in place; see sgemmKernel12x32StridedGeneric for the contract.
//
//go:noescape
func sgemmKernel12x32StridedAVX512(k int, a []float32, rsa, csa int, b []float32, rsb, hb int, c []float32, ldc int, alpha, beta float32)
