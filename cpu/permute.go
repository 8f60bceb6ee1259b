package cpu

import "github.com/compacter-go/compacter/kernels"

// Permute writes dst as src (contiguous, shape dims) with its axes permuted
// by perm. Each run of the last dst axis is a copy when that axis is the
// last src axis (splitting and merging attention heads), else a strided
// gather; runs are split over threads.
func (b *Backend) Permute(dst, src kernels.Buffer, dims, perm [4]int) error {
	const name = "permute"
	out, err := kernels.CheckPermute(dst, src, dims, perm)
	if err != nil {
		return err
	}
	s, err := b.f32s(name, dst, src)
	if err != nil {
		return err
	}
	d, x := s[0], s[1]
	if len(d) == 0 {
		return nil
	}
	var stride [4]int // src strides of the dims
	stride[3] = 1
	for i := 2; i >= 0; i-- {
		stride[i] = stride[i+1] * dims[i+1]
	}
	var ps [4]int // src stride of each dst axis
	for i := range 4 {
		ps[i] = stride[perm[i]]
	}
	n3 := out[3]
	runs := out[0] * out[1] * out[2]
	b.par(runs, max(1, elemGrain/n3), func(lo, hi int) {
		for run := lo; run < hi; run++ {
			i2 := run % out[2]
			i1 := (run / out[2]) % out[1]
			i0 := run / (out[2] * out[1])
			so := i0*ps[0] + i1*ps[1] + i2*ps[2]
			dr := d[run*n3 : (run+1)*n3]
			if ps[3] == 1 {
				copy(dr, x[so:so+n3])
				continue
			}
			for j := range dr {
				dr[j] = x[so+j*ps[3]]
			}
		}
	})
	return nil
}
