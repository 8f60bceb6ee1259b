package cpu

import (
	"math"

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
	b.par(len(ms), elemGrain/32, func(lo, hi int) { packPositive(ms[lo:hi], xs[lo*32:min(hi*32, len(xs))]) })
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
		applyMask(d[lo*32:e], xs[lo*32:e], ms[lo:hi])
	})
	return nil
}

// packPositive packs [x[i] > 0] into the bits of m (len(x) ≤ 32·len(m)).
func packPositive(m []int32, x []float32) {
	for w := range m {
		c := x[w*32 : min(w*32+32, len(x))]
		var bits uint32
		for i, v := range c {
			// v > 0 ⇔ the sign bit is clear and v is neither ±0 nor NaN.
			u := math.Float32bits(v)
			if int32(u) > 0 && u <= 0x7f800000 {
				bits |= 1 << i
			}
		}
		m[w] = int32(bits)
	}
}

// applyMask sets d[i] = x[i] where bit i of m is set, else 0.
func applyMask(d, x []float32, m []int32) {
	for w, word := range m {
		bits := uint32(word)
		c := x[w*32 : min(w*32+32, len(x))]
		o := d[w*32 : w*32+len(c)]
		for i, v := range c {
			if bits>>i&1 == 0 {
				v = 0
			}
			o[i] = v
		}
	}
}
