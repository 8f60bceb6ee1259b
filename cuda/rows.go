//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// rowThreads is the block size of the one-block-per-row kernels: a warp for
// short rows, up to 256 threads for long ones.
func rowThreads(cols int) uint32 {
	switch {
	case cols <= 32:
		return 32
	case cols <= 64:
		return 64
	case cols <= 128:
		return 128
	}
	return 256
}

// RMSNorm is T5LayerNorm: per row, the mean of squares (in double), rstd =
// 1/√(mean+eps) rounded to float32, y = w·(x·rstd).
func (b *Backend) RMSNorm(p kernels.RMSNormParams) error {
	const name = "rmsnorm"
	if err := p.Validate(false); err != nil {
		return err
	}
	ps, err := b.ptrs(name, p.X, p.W, p.Y, p.RStd)
	if err != nil {
		return err
	}
	if p.Rows == 0 {
		return nil
	}
	if err := checkInt32(name, p.Rows, p.Cols); err != nil {
		return err
	}
	f, err := b.fn("norm", "rmsnorm_fwd")
	if err != nil {
		return err
	}
	return b.launch(f, rowGrid(int64(p.Rows)), dim3{rowThreads(p.Cols), 1, 1}, 0,
		ps[2], ps[3], ps[0], ps[1], int32(p.Rows), int32(p.Cols), p.Eps)
}

// RMSNormBackward accumulates DW (a column kernel) and then overwrites DX
// (a row kernel), in that order so that DX may alias DY.
func (b *Backend) RMSNormBackward(p kernels.RMSNormParams) error {
	const name = "rmsnorm backward"
	if err := p.Validate(true); err != nil {
		return err
	}
	ps, err := b.ptrs(name, p.X, p.W, p.RStd, p.DY, p.DX, p.DW)
	if err != nil {
		return err
	}
	x, w, rs, dy, dx, dw := ps[0], ps[1], ps[2], ps[3], ps[4], ps[5]
	if p.Rows == 0 {
		return nil
	}
	if err := checkInt32(name, p.Rows, p.Cols); err != nil {
		return err
	}
	if p.DW != nil {
		f, err := b.fn("norm", "rmsnorm_dw")
		if err != nil {
			return err
		}
		if err := b.launch(f, colGrid(p.Cols), dim3{32, 8, 1}, 0, dw, dy, x, rs, int32(p.Rows), int32(p.Cols)); err != nil {
			return err
		}
	}
	f, err := b.fn("norm", "rmsnorm_dx")
	if err != nil {
		return err
	}
	return b.launch(f, rowGrid(int64(p.Rows)), dim3{rowThreads(p.Cols), 1, 1}, 0,
		dx, dy, x, w, rs, int32(p.Rows), int32(p.Cols))
}

// maxMasks is the most additive masks one Softmax takes (the kernel has a
// fixed parameter list); add more into one mask first.
const maxMasks = 4

// Softmax computes Y = softmax(X + Σ masks) over the last axis, one block
// per row: masked sums and their maximum, exponentials summed in double, a
// scale by the reciprocal; excluded elements (causal), and rows whose every
// element is −∞, are 0.
func (b *Backend) Softmax(p kernels.SoftmaxParams) error {
	const name = "softmax"
	if err := p.Validate(); err != nil {
		return err
	}
	if len(p.Masks) > maxMasks {
		return fmt.Errorf("cuda: %s: %d masks, at most %d (sum the others into one): %w", name, len(p.Masks), maxMasks, kernels.ErrShape)
	}
	ps, err := b.ptrs(name, p.X, p.Y)
	if err != nil {
		return err
	}
	args := []any{ps[1], ps[0], int64(p.Batch) * int64(p.Heads) * int64(p.Rows), int32(p.Heads), int32(p.Rows), int32(p.Cols),
		int32(b2i(p.Causal)), int32(len(p.Masks))}
	for i := range maxMasks {
		if i >= len(p.Masks) {
			args = append(args, uint64(0), int64(0), int64(0), int64(0))
			continue
		}
		m := p.Masks[i]
		mp, err := b.ptr(m.M)
		if err != nil {
			return fmt.Errorf("cuda: %s: mask %d: %w", name, i, err)
		}
		args = append(args, mp, int64(m.StrideBatch), int64(m.StrideHead), int64(m.StrideRow))
	}
	nrows := int64(p.Batch) * int64(p.Heads) * int64(p.Rows)
	if nrows == 0 {
		return nil
	}
	if err := checkInt32(name, p.Heads, p.Rows, p.Cols); err != nil {
		return err
	}
	f, err := b.fn("softmax", "softmax_fwd")
	if err != nil {
		return err
	}
	return b.launch(f, rowGrid(nrows), dim3{rowThreads(p.Cols), 1, 1}, 0, args...)
}

// b2i is 1 for true.
func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// SoftmaxBackward computes dx = y ⊙ (dy − Σ_c dy·y) per row; dx may alias
// dy.
func (b *Backend) SoftmaxBackward(dx, dy, y kernels.Buffer, rows, cols int) error {
	const name = "softmax backward"
	if err := kernels.CheckSoftmaxBackward(dx, dy, y, rows, cols); err != nil {
		return err
	}
	ps, err := b.ptrs(name, dx, dy, y)
	if err != nil {
		return err
	}
	if rows == 0 {
		return nil
	}
	if err := checkInt32(name, cols); err != nil {
		return err
	}
	f, err := b.fn("softmax", "softmax_bwd")
	if err != nil {
		return err
	}
	return b.launch(f, rowGrid(int64(rows)), dim3{rowThreads(cols), 1, 1}, 0, ps[0], ps[1], ps[2], int64(rows), int32(cols))
}

// CrossEntropy computes the per-row losses and, when DLogits is not nil, the
// gradient (softmax − onehot)·GradScale, one block per row. The labels are
// downloaded and checked first (a label outside [0, Vocab) that is not
// IgnoreIndex is an error of the call, as on the CPU), which waits for the
// queued work.
func (b *Backend) CrossEntropy(p kernels.CrossEntropyParams) error {
	const name = "cross-entropy"
	if err := p.Validate(); err != nil {
		return err
	}
	ps, err := b.ptrs(name, p.Logits, p.Labels, p.Loss, p.DLogits)
	if err != nil {
		return err
	}
	labels := make([]int32, p.Rows)
	if err := b.DownloadInt32(labels, p.Labels); err != nil {
		return fmt.Errorf("cuda: %s: labels: %w", name, err)
	}
	if err := p.CheckLabels(labels); err != nil {
		return err
	}
	if p.Rows == 0 {
		return nil
	}
	if err := checkInt32(name, p.Rows, p.Vocab); err != nil {
		return err
	}
	f, err := b.fn("loss", "cross_entropy")
	if err != nil {
		return err
	}
	return b.launch(f, rowGrid(int64(p.Rows)), dim3{rowThreads(p.Vocab), 1, 1}, 0,
		ps[2], ps[3], ps[0], ps[1], int32(p.Rows), int32(p.Vocab), p.IgnoreIndex, p.GradScale)
}
