package cpu

import "github.com/compacter-go/compacter/kernels"

// Dropout computes dst[i] = src[i]·keep(i)/(1−p) with the counter-based
// mask kernels.DropoutKeep(seed, offset+i, p), elements in parallel (the
// mask depends only on the index). p = 0 copies; dst may alias src.
func (b *Backend) Dropout(dst, src kernels.Buffer, p float32, seed, offset uint64) error {
	const name = "dropout"
	if err := kernels.CheckDropout(dst, src, p); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, src)
	if err != nil {
		return err
	}
	d, x := s[0], s[1]
	if p == 0 {
		copy(d, x)
		return nil
	}
	scale := float32(1 / (1 - float64(p)))
	b.par(len(d), elemGrain/4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if kernels.DropoutKeep(seed, offset+uint64(i), p) {
				d[i] = x[i] * scale
			} else {
				d[i] = 0
			}
		}
	})
	return nil
}
