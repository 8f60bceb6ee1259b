package cpu

import (
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// Softmax computes Y = softmax(X + Σ masks) over the last axis, rows in
// parallel. Per row: y = x + masks over the allowed prefix (all of it, or
// the causal one), max, y = exp(y − max) with the sum accumulated in float32,
// y /= sum; excluded elements, and rows whose every element is −∞, are 0.
func (b *Backend) Softmax(p kernels.SoftmaxParams) error {
	const name = "softmax"
	if err := p.Validate(); err != nil {
		return err
	}
	s, err := b.f32s(name, p.X, p.Y)
	if err != nil {
		return err
	}
	x, y := s[0], s[1]
	masks := make([][]float32, len(p.Masks))
	for i, m := range p.Masks {
		if masks[i], err = b.f32(m.M); err != nil {
			return opErr(name, err)
		}
	}
	rows, cols := p.Rows, p.Cols
	n := p.Batch * p.Heads * rows
	b.par(n, max(1, elemGrain/cols/4), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r, bh := i%rows, i/rows
			hd, bt := bh%p.Heads, bh/p.Heads
			valid := cols
			if p.Causal {
				valid = r + cols - rows + 1
			}
			xr, yr := x[i*cols:i*cols+valid], y[i*cols:(i+1)*cols]
			if len(masks) == 0 {
				copy(yr, xr)
			}
			for k, m := range p.Masks {
				off := bt*m.StrideBatch + hd*m.StrideHead + r*m.StrideRow
				src := xr
				if k > 0 {
					src = yr[:valid]
				}
				vecAdd(b.simd, yr[:valid], src, masks[k][off:off+valid])
			}
			softmaxRow(b.simd, yr[:valid])
			clear(yr[valid:])
		}
	})
	return nil
}

// softmaxRow replaces y by softmax(y) in place; a row that is all −∞ becomes
// zeros.
func softmaxRow(simd bool, y []float32) {
	m := vecMax(simd, y)
	if math.IsInf(float64(m), -1) {
		clear(y)
		return
	}
	sum := expShift(simd, y, m)
	vecScaleTo(simd, y, y, 1/sum)
}

// SoftmaxBackward computes dx = y ⊙ (dy − Σ_c dy·y) per row; dx may alias
// dy.
func (b *Backend) SoftmaxBackward(dx, dy, y kernels.Buffer, rows, cols int) error {
	const name = "softmax backward"
	if err := kernels.CheckSoftmaxBackward(dx, dy, y, rows, cols); err != nil {
		return err
	}
	s, err := b.f32s(name, dx, dy, y)
	if err != nil {
		return err
	}
	d, g, ys := s[0], s[1], s[2]
	b.par(rows, max(1, elemGrain/cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dr, gr, yr := d[r*cols:(r+1)*cols], g[r*cols:(r+1)*cols], ys[r*cols:(r+1)*cols]
			dot := vecDot(b.simd, gr, yr)
			for c, v := range yr {
				dr[c] = v * (gr[c] - dot)
			}
		}
	})
	return nil
}

// expShift dispatches expShiftAVX2 or its twin expShiftGeneric.
func expShift(simd bool, y []float32, m float32) float32 {
	if simd {
		return expShiftAVX2(y, m)
	}
	return expShiftGeneric(y, m)
}
