package cpu

import (
	"github.com/compacter-go/compacter/kernels"
)

var _ kernels.SignMasker = (*Backend)(nil)

// PackPositive sets bit i of mask to x[i] > 0 (kernels.SignMasker).
func (b *Backend) PackPositive(mask, x kernels.Buffer) error {
	const name = "pack positive"
	if err := kernels.CheckPackPositive(mask, x); err != nil {
		return err
	}
	xs, err := b.f32(x)
	if err != nil {
		return opErr(name, err)
	}
	ms, err := b.i32(mask)
	if err != nil {
		return opErr(name, err)
	}
	// Chunks of whole words: 32 elements each.
	b.par(len(ms), elemGrain/32, func(lo, hi int) { packPositive(b.simd, ms[lo:hi], xs[lo*32:min(hi*32, len(xs))]) })
	return nil
}

// ApplyMask sets dst[i] = x[i] where bit i of mask is set, else 0
// (kernels.SignMasker).
func (b *Backend) ApplyMask(dst, x, mask kernels.Buffer) error {
	const name = "apply mask"
	if err := kernels.CheckApplyMask(dst, x, mask); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, x)
	if err != nil {
		return err
	}
	ms, err := b.i32(mask)
	if err != nil {
		return opErr(name, err)
	}
	d, xs := s[0], s[1]
	b.par(len(ms), elemGrain/32, func(lo, hi int) {
		e := min(hi*32, len(xs))
		applyMask(b.simd, d[lo*32:e], xs[lo*32:e], ms[lo:hi])
	})
	return nil
}

// packPositive packs [x[i] > 0] into the bits of m (len(x) ≤ 32·len(m)):
// the assembly on whole words when simd, the pure Go on a partial last one.
func packPositive(simd bool, m []int32, x []float32) {
	if simd {
		w := len(x) / 32
		packPositiveAVX2(m[:w], x[:w*32])
		m, x = m[w:], x[w*32:]
	}
	packPositiveGeneric(m, x)
}

// applyMask sets d[i] = x[i] where bit i of m is set, else 0.
func applyMask(simd bool, d, x []float32, m []int32) {
	if simd {
		w := len(x) / 32
		applyMaskAVX2(d[:w*32], x[:w*32], m[:w])
		d, x, m = d[w*32:], x[w*32:], m[w:]
	}
	applyMaskGeneric(d, x, m)
}
