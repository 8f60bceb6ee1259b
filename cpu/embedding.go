package cpu

import "github.com/compacter-go/compacter/kernels"

// checkEmbedding validates operation op, an Embedding (backward=false) or
// its backward (out is dout, table dtable), with the shared checks, reading
// and checking the ids. It returns the ids.
func (b *Backend) checkEmbedding(op string, out, table, ids kernels.Buffer, dim int, backward bool) ([]int32, error) {
	rows, err := kernels.CheckEmbedding(out, table, ids, dim, backward)
	if err != nil {
		return nil, err
	}
	id, err := b.i32(ids)
	if err != nil {
		return nil, opErr(op, err)
	}
	return id, kernels.CheckEmbeddingIDs(id, rows, backward)
}

// Embedding gathers dst[i, :] = table[ids[i], :], rows in parallel.
func (b *Backend) Embedding(dst, table, ids kernels.Buffer, dim int) error {
	const name = "embedding"
	id, err := b.checkEmbedding(name, dst, table, ids, dim, false)
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
	id, err := b.checkEmbedding(name, dout, dtable, ids, dim, true)
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
