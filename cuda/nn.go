//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// checkEmbedding validates operation op, an Embedding (backward=false) or
// its backward (out is dout, table dtable), with the shared checks, then
// downloads the ids (which waits for the queued work) and checks them. It
// returns the device addresses of out, table and ids.
func (b *Backend) checkEmbedding(op string, out, table, ids kernels.Buffer, dim int, backward bool) (uint64, uint64, uint64, error) {
	rows, err := kernels.CheckEmbedding(out, table, ids, dim, backward)
	if err != nil {
		return 0, 0, 0, err
	}
	ps, err := b.ptrs(op, out, table, ids)
	if err != nil {
		return 0, 0, 0, err
	}
	id := make([]int32, ids.Len())
	if err := b.DownloadInt32(id, ids); err != nil {
		return 0, 0, 0, fmt.Errorf("cuda: %s: ids: %w", op, err)
	}
	if err := kernels.CheckEmbeddingIDs(id, rows, backward); err != nil {
		return 0, 0, 0, err
	}
	if err := checkInt32(op, dim); err != nil {
		return 0, 0, 0, err
	}
	return ps[0], ps[1], ps[2], nil
}

// Embedding gathers dst[i, :] = table[ids[i], :].
func (b *Backend) Embedding(dst, table, ids kernels.Buffer, dim int) error {
	const name = "embedding"
	d, t, id, err := b.checkEmbedding(name, dst, table, ids, dim, false)
	if err != nil {
		return err
	}
	return b.embeddingKernel("embedding_fwd", d, t, id, ids.Len(), dim)
}

// EmbeddingBackward scatter-adds dtable[ids[i], :] += dout[i, :] (atomic
// adds: repeated ids sum in an unspecified order).
func (b *Backend) EmbeddingBackward(dtable, dout, ids kernels.Buffer, dim int) error {
	const name = "embedding backward"
	d, t, id, err := b.checkEmbedding(name, dout, dtable, ids, dim, true)
	if err != nil {
		return err
	}
	return b.embeddingKernel("embedding_bwd", t, d, id, ids.Len(), dim)
}

// embeddingKernel launches a kernel of module embedding over n·dim
// elements.
func (b *Backend) embeddingKernel(kernel string, p0, p1, ids uint64, n, dim int) error {
	total := int64(n) * int64(dim)
	if total == 0 {
		return nil
	}
	f, err := b.fn("embedding", kernel)
	if err != nil {
		return err
	}
	return b.launch(f, b.grid1(total, elemThreads), dim3{elemThreads, 1, 1}, 0, p0, p1, ids, int64(n), int32(dim))
}

// AdamW takes one torch.optim.AdamW step in place. The scalar coefficients
// are computed in float64 and rounded to float32 as the CPU backend does;
// the per-element update runs in float32 in PyTorch's order.
func (b *Backend) AdamW(p kernels.AdamWParams) error {
	const name = "adamw"
	if err := p.Validate(); err != nil {
		return err
	}
	ps, err := b.ptrs(name, p.Param, p.Grad, p.M, p.V)
	if err != nil {
		return err
	}
	if p.SumSquares != nil {
		// Not fused here: the sum of squares first, as the op alone.
		if err := b.SumSquares(p.SumSquares, p.Grad); err != nil {
			return err
		}
	}
	n := p.Param.Len()
	if n == 0 {
		return nil
	}
	lr, b1, b2 := float64(p.LR), float64(p.Beta1), float64(p.Beta2)
	decay := float32(1 - lr*float64(p.WeightDecay))
	omb1, omb2 := float32(1-b1), float32(1-b2)
	t := float64(p.Step)
	step := float32(lr / (1 - math.Pow(b1, t)))
	bc2sqrt := float32(math.Sqrt(1 - math.Pow(b2, t)))
	f, err := b.fn("optim", "adamw")
	if err != nil {
		return err
	}
	return b.launch(f, b.grid1(int64(n), elemThreads), dim3{elemThreads, 1, 1}, 0,
		ps[0], ps[1], ps[2], ps[3], int64(n), decay, p.Beta1, p.Beta2, omb1, omb2, step, bc2sqrt, p.Eps)
}

// Permute writes dst as src (contiguous, shape dims) with its axes permuted
// by perm: one thread per element of dst, gathering from src.
func (b *Backend) Permute(dst, src kernels.Buffer, dims, perm [4]int) error {
	const name = "permute"
	out, err := kernels.CheckPermute(dst, src, dims, perm)
	if err != nil {
		return err
	}
	ps, err := b.ptrs(name, dst, src)
	if err != nil {
		return err
	}
	n := dst.Len()
	if n == 0 {
		return nil
	}
	if err := checkInt32(name, out[1], out[2], out[3]); err != nil {
		return err
	}
	var stride [4]int64 // src strides of the dims
	stride[3] = 1
	for i := 2; i >= 0; i-- {
		stride[i] = stride[i+1] * int64(dims[i+1])
	}
	f, err := b.fn("permute", "permute4")
	if err != nil {
		return err
	}
	return b.launch(f, b.grid1(int64(n), elemThreads), dim3{elemThreads, 1, 1}, 0,
		ps[0], ps[1], int64(n), int32(out[1]), int32(out[2]), int32(out[3]),
		stride[perm[0]], stride[perm[1]], stride[perm[2]], stride[perm[3]])
}
