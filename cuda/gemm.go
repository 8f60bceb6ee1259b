//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// maxBatch is the most products one cuBLAS call computes; longer batches
// are split.
const maxBatch = 65535

// Gemm computes C = alpha·op(A)·op(B) + beta·C through cuBLAS, queued on
// the stream. cuBLAS is column-major: a row-major M×N C is the column-major
// N×M Cᵀ, and Cᵀ = op(B)ᵀ·op(A)ᵀ, so the call swaps A and B (and their
// transposes) and M and N, with the same leading dimensions. cuBLAS does not
// read C when beta = 0. K = 0 (C = beta·C) runs a kernel of its own, as A
// and B may then be nil. The compute mode is the backend's Math.
func (b *Backend) Gemm(p kernels.GemmParams) error {
	p, err := p.Normalize()
	if err != nil {
		return err
	}
	if p.M == 0 || p.N == 0 {
		return nil
	}
	pc, err := b.ptr(p.C)
	if err != nil {
		return fmt.Errorf("cuda: gemm C: %w", err)
	}
	for _, v := range []int{p.M, p.N, p.K, p.LDA, p.LDB, p.LDC} {
		if v > math.MaxInt32 {
			return fmt.Errorf("cuda: gemm: size %d exceeds cuBLAS's int: %w", v, kernels.ErrShape)
		}
	}
	if p.K == 0 {
		f, err := b.fn("elementwise", "gemm_scale_c")
		if err != nil {
			return err
		}
		for done := 0; done < p.Batch; done += maxBatch {
			nb := min(p.Batch-done, maxBatch)
			c := pc + uint64(done)*uint64(p.StrideC)*4
			if err := b.launch(f, b.grid1(int64(p.M)*int64(p.N)*int64(nb), 256), dim3{256, 1, 1}, 0,
				c, int32(p.M), int32(p.N), int32(p.LDC), int64(p.StrideC), int32(nb), p.Beta); err != nil {
				return err
			}
		}
		return nil
	}
	pa, err := b.ptr(p.A)
	if err != nil {
		return fmt.Errorf("cuda: gemm A: %w", err)
	}
	pb, err := b.ptr(p.B)
	if err != nil {
		return fmt.Errorf("cuda: gemm B: %w", err)
	}
	for done := 0; done < p.Batch; done += maxBatch {
		nb := min(p.Batch-done, maxBatch)
		off := func(base uint64, stride int) uint64 { return base + uint64(done)*uint64(stride)*4 }
		if err := b.gemmRaw(p.TransB, p.TransA, p.N, p.M, p.K, p.Alpha,
			off(pb, p.StrideB), p.LDB, int64(p.StrideB), off(pa, p.StrideA), p.LDA, int64(p.StrideA),
			p.Beta, off(pc, p.StrideC), p.LDC, int64(p.StrideC), nb, b.math.cublasCompute()); err != nil {
			return err
		}
	}
	return nil
}
