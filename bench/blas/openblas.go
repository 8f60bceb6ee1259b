//go:build openblas && cgo

package blas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas-openblas.h>
*/
import "C"

import "unsafe"

// SetThreads sets the number of threads OpenBLAS uses (for every call
// that follows, process-wide).
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// Threads returns the number of threads OpenBLAS uses.
func Threads() int { return int(C.openblas_get_num_threads()) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with OpenBLAS's
// cblas_sgemm, row-major, with the argument conventions of cpu.Sgemm
// (op(A) m×k, op(B) k×n). The slices must be long enough for their leading
// dimensions; m, n or k of 0 is allowed.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		ptr(a), C.blasint(lda), ptr(b), C.blasint(ldb), C.float(beta), (*C.float)(unsafe.Pointer(unsafe.SliceData(c))), C.blasint(ldc))
}

// ptr returns the address of s's first element, nil for an empty slice.
func ptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}
