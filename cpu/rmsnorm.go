package cpu

import (
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// RMSNorm is T5LayerNorm: per row, the mean of squares is accumulated in
// float32 (as the reference code does, but with 32 partial sums in the
// assembly and float64 in the pure-Go twin), rstd = 1/√(var+eps) and
// y = w·(x·rstd), in the order of the Hugging Face code.
func (b *Backend) RMSNorm(p kernels.RMSNormParams) error {
	const name = "rmsnorm"
	if err := p.Validate(false); err != nil {
		return err
	}
	s, err := b.f32s(name, p.X, p.W, p.Y, p.RStd)
	if err != nil {
		return err
	}
	x, w, y, rs := s[0], s[1], s[2], s[3]
	cols := p.Cols
	b.par(p.Rows, max(1, elemGrain/cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*cols : (r+1)*cols]
			v := vecSumSquares(b.simd, xr)/float32(cols) + p.Eps
			rstd := float32(1 / math.Sqrt(float64(v)))
			rs[r] = rstd
			vecScaleMul(b.simd, y[r*cols:(r+1)*cols], xr, w, rstd)
		}
	})
	return nil
}

// RMSNormBackward accumulates DW (parallel over column ranges, so each
// goroutine owns its part of DW) and then overwrites DX row by row:
//
//	g = Σ_c w[c]·dy[c]·x[c];  dx = rstd·(w⊙dy − x·rstd²·g/cols)
//
// DW is done first so that DX may alias DY.
func (b *Backend) RMSNormBackward(p kernels.RMSNormParams) error {
	const name = "rmsnorm backward"
	if err := p.Validate(true); err != nil {
		return err
	}
	s, err := b.f32s(name, p.X, p.W, p.RStd, p.DY, p.DX, p.DW)
	if err != nil {
		return err
	}
	x, w, rs, dy, dx, dw := s[0], s[1], s[2], s[3], s[4], s[5]
	rows, cols := p.Rows, p.Cols
	if dw != nil {
		grain := 256
		if rows*cols < elemGrain {
			grain = cols
		}
		b.par(cols, grain, func(lo, hi int) {
			acc := make([]float32, hi-lo)
			for r := range rows {
				vecMulAdd(b.simd, acc, dy[r*cols+lo:r*cols+hi], x[r*cols+lo:r*cols+hi], rs[r])
			}
			vecAdd(b.simd, dw[lo:hi], dw[lo:hi], acc)
		})
	}
	b.par(rows, max(1, elemGrain/cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rstd := rs[r]
			xr, dxr := x[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
			vecMul(b.simd, dxr, w, dy[r*cols:(r+1)*cols])
			g := vecDot(b.simd, dxr, xr)
			coef := rstd * rstd * g / float32(cols)
			vecAxpby(b.simd, dxr, xr, -coef, 1)
			vecScaleTo(b.simd, dxr, dxr, rstd)
		}
	})
	return nil
}
