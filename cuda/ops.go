//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// This file holds the elementwise operations and reductions; rows.go the
// row-wise ones (RMSNorm, Softmax, CrossEntropy), nn.go Embedding, AdamW and
// Permute. Each validates its arguments as the CPU backend does (the shared
// checks of package kernels), resolves the buffers and queues its kernel
// from kernels/<module>.cu.

// elemThreads is the block size of the elementwise kernels.
const elemThreads = 256

// elementwise launches a grid-stride kernel of module elementwise over n
// elements with the given arguments (n is not passed implicitly).
func (b *Backend) elementwise(kernel string, n int, args ...any) error {
	if n == 0 {
		return nil
	}
	f, err := b.fn("elementwise", kernel)
	if err != nil {
		return err
	}
	return b.launch(f, b.grid1(int64(n), elemThreads), dim3{elemThreads, 1, 1}, 0, args...)
}

// Binary computes dst[i] = a[i] op c[i].
func (b *Backend) Binary(op kernels.BinaryOp, dst, a, c kernels.Buffer) error {
	const name = "binary"
	if err := kernels.CheckBinary(op, dst, a, c); err != nil {
		return err
	}
	p, err := b.ptrs(name, dst, a, c)
	if err != nil {
		return err
	}
	n := dst.Len()
	return b.elementwise("binary_f32", n, p[0], p[1], p[2], int64(n), int32(op))
}

// Axpby computes dst[i] = alpha·x[i] + beta·dst[i]; with beta = 0 dst is
// not read.
func (b *Backend) Axpby(dst kernels.Buffer, alpha float32, x kernels.Buffer, beta float32) error {
	const name = "axpby"
	if err := kernels.CheckAxpby(dst, x); err != nil {
		return err
	}
	p, err := b.ptrs(name, dst, x)
	if err != nil {
		return err
	}
	n := dst.Len()
	return b.elementwise("axpby_f32", n, p[0], p[1], int64(n), alpha, beta)
}

// Scale computes dst[i] *= alpha.
func (b *Backend) Scale(dst kernels.Buffer, alpha float32) error {
	const name = "scale"
	if err := kernels.CheckScale(dst); err != nil {
		return err
	}
	p, err := b.ptrs(name, dst)
	if err != nil {
		return err
	}
	n := dst.Len()
	return b.elementwise("scale_f32", n, p[0], int64(n), alpha)
}

// AddBias adds bias[c] to x[r, c] in place.
func (b *Backend) AddBias(x, bias kernels.Buffer, rows, cols int) error {
	const name = "add bias"
	if err := kernels.CheckAddBias(x, bias, rows, cols); err != nil {
		return err
	}
	p, err := b.ptrs(name, x, bias)
	if err != nil {
		return err
	}
	return b.elementwise("add_bias_f32", rows*cols, p[0], p[1], int64(rows*cols), int32(cols))
}

// SumRows computes dst[c] = beta·dst[c] + Σ_r x[r, c] (sums in double).
func (b *Backend) SumRows(dst, x kernels.Buffer, rows, cols int, beta float32) error {
	const name = "sum rows"
	if err := kernels.CheckSumRows(dst, x, rows, cols); err != nil {
		return err
	}
	p, err := b.ptrs(name, dst, x)
	if err != nil {
		return err
	}
	if cols == 0 {
		return nil
	}
	if err := checkInt32(name, rows, cols); err != nil {
		return err
	}
	f, err := b.fn("reduce", "sum_rows_f32")
	if err != nil {
		return err
	}
	return b.launch(f, colGrid(cols), dim3{32, 8, 1}, 0, p[0], p[1], int32(rows), int32(cols), beta)
}

// colGrid is the grid of the column kernels (32 columns per block of 32×8).
func colGrid(cols int) dim3 { return dim3{uint32(min((cols+31)/32, 1<<20)), 1, 1} }

// checkInt32 rejects sizes a kernel's int parameters cannot hold.
func checkInt32(op string, sizes ...int) error {
	for _, s := range sizes {
		if s > 1<<31-1 {
			return fmt.Errorf("cuda: %s: size %d exceeds int32: %w", op, s, kernels.ErrShape)
		}
	}
	return nil
}

// sumSquaresBlocks is the number of partial sums of SumSquares (at most
// scratchBytes/8).
const sumSquaresBlocks = 512

// SumSquares adds Σ x[i]² to dst[0]: per-block partial sums in double into
// the backend's scratch memory, then one block adds them to dst[0].
func (b *Backend) SumSquares(dst, x kernels.Buffer) error {
	const name = "sum squares"
	if err := kernels.CheckSumSquares(dst, x); err != nil {
		return err
	}
	p, err := b.ptrs(name, dst, x)
	if err != nil {
		return err
	}
	n := x.Len()
	if n == 0 {
		return nil
	}
	part, err := b.fn("reduce", "sum_squares_partial")
	if err != nil {
		return err
	}
	final, err := b.fn("reduce", "sum_squares_final")
	if err != nil {
		return err
	}
	g := b.grid1(int64(n), 256)
	g.X = min(g.X, sumSquaresBlocks)
	if err := b.launch(part, g, dim3{256, 1, 1}, 0, p[1], int64(n), b.scratch); err != nil {
		return err
	}
	return b.launch(final, dim3{1, 1, 1}, dim3{256, 1, 1}, 0, p[0], b.scratch, int32(g.X))
}

// Act computes dst[i] = f(x[i]) with the CPU backend's formulas (the exact
// GELU in double).
func (b *Backend) Act(f kernels.Activation, dst, x kernels.Buffer) error {
	const name = "act"
	if err := kernels.CheckAct(f, dst, x); err != nil {
		return err
	}
	p, err := b.ptrs(name, dst, x)
	if err != nil {
		return err
	}
	n := dst.Len()
	return b.elementwise("act_f32", n, p[0], p[1], int64(n), int32(f))
}

// ActBackward computes dx[i] = dy[i]·f'(x[i]).
func (b *Backend) ActBackward(f kernels.Activation, dx, dy, x kernels.Buffer) error {
	const name = "act backward"
	if err := kernels.CheckActBackward(f, dx, dy, x); err != nil {
		return err
	}
	p, err := b.ptrs(name, dx, dy, x)
	if err != nil {
		return err
	}
	n := dx.Len()
	return b.elementwise("act_backward_f32", n, p[0], p[1], p[2], int64(n), int32(f))
}

// Dropout computes dst[i] = src[i]·keep(i)/(1−p) with the counter-based
// mask kernels.DropoutKeep(seed, offset+i, p), drawn on the device bit for
// bit as on the CPU. p = 0 copies; dst may alias src.
func (b *Backend) Dropout(dst, src kernels.Buffer, p float32, seed, offset uint64) error {
	const name = "dropout"
	if err := kernels.CheckDropout(dst, src, p); err != nil {
		return err
	}
	ps, err := b.ptrs(name, dst, src)
	if err != nil {
		return err
	}
	n := dst.Len()
	if p == 0 {
		if n == 0 || ps[0] == ps[1] {
			return nil
		}
		return b.dtodAsync(ps[0], ps[1], int64(n)*4)
	}
	scale := float32(1 / (1 - float64(p)))
	return b.elementwise("dropout_f32", n, ps[0], ps[1], int64(n), p, scale, seed, offset)
}
