package cpu

import "os"

// sgemmTransNT lets products A·Bᵀ with few rows run as their transpose
// (see sgemmTransposeNT; COMPACTER_CPU_TRANSNT=0 turns it off, e.g. to
// compare the two). It is decided once, at init.
var sgemmTransNT = os.Getenv("COMPACTER_CPU_TRANSNT") != "0"

// sgemmTransNTChunk is the most floats of the Cᵀ scratch per chunk of
// columns: 512 KiB, so the transposing pass reads it from L2.
const sgemmTransNTChunk = 128 << 10

// sgemmTransposeNT reports whether C = A·Bᵀ (a linear layer x·Wᵀ with
// PyTorch-layout weights) runs as Cᵀ = B·Aᵀ into a scratch that is then
// transposed into C. With few rows of A (a decoder's 128 at t5-base
// source 128, target 16; a GLUE batch's few target tokens; the LM head
// over them) the direct form spends its time packing the frozen weight
// B, each element for only M rows; transposed, the 12×32 kernel reads
// the weight in place as its A (sgemmKernel12x32StridedAVX512) and packs
// only the small x. The bits are the direct form's: every element is the
// same sum in the same order (beta = 0 only, so nothing is added after
// the sum).
func sgemmTransposeNT(simd, transA, transB bool, m, n, k int, beta float32) bool {
	return simd && sgemmWide && sgemmInPlaceA && sgemmTransNT && !transA && transB && beta == 0 &&
		m >= 3 && m <= 128 && n >= 256 && k >= 128
}

// sgemmNTAsTranspose computes C = alpha·A·Bᵀ (C not read) as Cᵀ = alpha·B·Aᵀ,
// a chunk of C's columns (B's rows) at a time, each transposed into C.
func sgemmNTAsTranspose(simd bool, threads, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	nc := min(n, max(256, sgemmTransNTChunk/m&^31))
	sp := sgemmGetB(nc * m)
	t := *sp
	for j0 := 0; j0 < n; j0 += nc {
		nj := min(nc, n-j0)
		sgemm(simd, threads, false, true, nj, m, k, alpha, b[j0*ldb:], ldb, a, lda, 0, t, m)
		// Both threads transpose, each a run of 8-column blocks.
		cj := c[j0:]
		parallelFor(threads, sgemmCeilDiv(nj, 8), max(1, 8192/m), func(lo, hi int) {
			lo, hi = lo*8, min(hi*8, nj)
			transpose(simd, cj[lo:], ldc, t[lo*m:], m, m, hi-lo)
		})
	}
	sgemmBPool.Put(sp)
}
