package cpu

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// checkEmbedding validates an Embedding (or its backward, with dtable and
// dout): table of rows×dim, ids Int32 of n, out of n×dim, and every id in
// [0, rows). It returns the ids.
func (b *Backend) checkEmbedding(op string, out, table, ids kernels.Buffer, dim int, outName, tableName string) ([]int32, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("cpu: %s: dim=%d: %w", op, dim, kernels.ErrShape)
	}
	if err := kernels.CheckBuf(op, "ids", ids, kernels.Int32, 0); err != nil {
		return nil, err
	}
	if err := kernels.CheckBuf(op, tableName, table, kernels.Float32, 0); err != nil {
		return nil, err
	}
	if table.Len()%dim != 0 {
		return nil, fmt.Errorf("cpu: %s: %s of %d elements is not rows×%d: %w", op, tableName, table.Len(), dim, kernels.ErrShape)
	}
	if err := kernels.CheckExact(op, outName, out, kernels.Float32, ids.Len()*dim); err != nil {
		return nil, err
	}
	id, err := b.i32(ids)
	if err != nil {
		return nil, opErr(op, err)
	}
	rows := table.Len() / dim
	for i, v := range id {
		if v < 0 || int(v) >= rows {
			return nil, fmt.Errorf("cpu: %s: ids[%d] = %d outside [0, %d): %w", op, i, v, rows, kernels.ErrShape)
		}
	}
	return id, nil
}

// Embedding gathers dst[i, :] = table[ids[i], :], rows in parallel.
func (b *Backend) Embedding(dst, table, ids kernels.Buffer, dim int) error {
	const name = "embedding"
	id, err := b.checkEmbedding(name, dst, table, ids, dim, "dst", "table")
	if err != nil {
		return err
	}
	s, err := b.f32s(name, dst, table)
	if err != nil {
		return err
	}
	d, t := s[0], s[1]
	b.par(len(id), max(1, elemGrain/dim), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := int(id[i])
			copy(d[i*dim:(i+1)*dim], t[r*dim:(r+1)*dim])
		}
	})
	return nil
}

// EmbeddingBackward scatter-adds dtable[ids[i], :] += dout[i, :], in the
// order of i, parallel over column ranges: each goroutine owns a range of
// columns of every row, so repeated ids never race.
func (b *Backend) EmbeddingBackward(dtable, dout, ids kernels.Buffer, dim int) error {
	const name = "embedding backward"
	id, err := b.checkEmbedding(name, dout, dtable, ids, dim, "dout", "dtable")
	if err != nil {
		return err
	}
	s, err := b.f32s(name, dtable, dout)
	if err != nil {
		return err
	}
	t, d := s[0], s[1]
	grain := 128
	if len(id)*dim < elemGrain {
		grain = dim
	}
	b.par(dim, grain, func(lo, hi int) {
		for i, v := range id {
			r := int(v) * dim
			vecAdd(b.simd, t[r+lo:r+hi], t[r+lo:r+hi], d[i*dim+lo:i*dim+hi])
		}
	})
	return nil
}
