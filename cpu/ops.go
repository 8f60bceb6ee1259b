package cpu

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// This file holds the elementwise and reduction operations of the backend
// and the helpers every op uses; the other operations are in files named
// after them (rmsnorm.go, softmax.go, fwht.go, ...).

// elemGrain is the smallest number of elements a parallel chunk of an
// elementwise operation gets: below it one goroutine does the work.
const elemGrain = 1 << 15

// opErr wraps an error of operation op.
func opErr(op string, err error) error { return fmt.Errorf("cpu: %s: %w", op, err) }

// f32s returns the float32 memory of each buffer (nil for a nil buffer).
func (b *Backend) f32s(op string, bufs ...kernels.Buffer) ([][]float32, error) {
	out := make([][]float32, len(bufs))
	for i, x := range bufs {
		s, err := b.f32(x)
		if err != nil {
			return nil, opErr(op, err)
		}
		out[i] = s
	}
	return out, nil
}

// par runs fn over [0, n) in chunks of at least grain on b's threads.
func (b *Backend) par(n, grain int, fn func(lo, hi int)) {
	parallelFor(b.threads, n, grain, fn)
}

// Binary computes dst[i] = a[i] op c[i].
func (b *Backend) Binary(op kernels.BinaryOp, dst, a, c kernels.Buffer) error {
	const name = "binary"
	if err := kernels.CheckBinary(op, dst, a, c); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, a, c)
	if err != nil {
		return err
	}
	d, x, y := s[0], s[1], s[2]
	b.par(len(d), elemGrain, func(lo, hi int) {
		switch op {
		case kernels.Add:
			vecAdd(b.simd, d[lo:hi], x[lo:hi], y[lo:hi])
		case kernels.Sub:
			vecSub(b.simd, d[lo:hi], x[lo:hi], y[lo:hi])
		default:
			vecMul(b.simd, d[lo:hi], x[lo:hi], y[lo:hi])
		}
	})
	return nil
}

// Axpby computes dst[i] = alpha·x[i] + beta·dst[i]; with beta = 0 dst is
// not read.
func (b *Backend) Axpby(dst kernels.Buffer, alpha float32, x kernels.Buffer, beta float32) error {
	const name = "axpby"
	if err := kernels.CheckAxpby(dst, x); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, x)
	if err != nil {
		return err
	}
	d, xs := s[0], s[1]
	b.par(len(d), elemGrain, func(lo, hi int) {
		if beta == 0 {
			vecScaleTo(b.simd, d[lo:hi], xs[lo:hi], alpha)
		} else {
			vecAxpby(b.simd, d[lo:hi], xs[lo:hi], alpha, beta)
		}
	})
	return nil
}

// Scale computes dst[i] *= alpha.
func (b *Backend) Scale(dst kernels.Buffer, alpha float32) error {
	const name = "scale"
	if err := kernels.CheckScale(dst); err != nil {
		return err
	}
	s, err := b.f32s(name, dst)
	if err != nil {
		return err
	}
	d := s[0]
	b.par(len(d), elemGrain, func(lo, hi int) { vecScaleTo(b.simd, d[lo:hi], d[lo:hi], alpha) })
	return nil
}

// AddBias adds bias[c] to x[r, c] in place.
func (b *Backend) AddBias(x, bias kernels.Buffer, rows, cols int) error {
	const name = "add bias"
	if err := kernels.CheckAddBias(x, bias, rows, cols); err != nil {
		return err
	}
	s, err := b.f32s(name, x, bias)
	if err != nil {
		return err
	}
	xs, bs := s[0], s[1]
	if cols == 0 {
		return nil
	}
	b.par(rows, max(1, elemGrain/cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xs[r*cols : (r+1)*cols]
			vecAdd(b.simd, row, row, bs)
		}
	})
	return nil
}

// SumRows computes dst[c] = beta·dst[c] + Σ_r x[r, c], parallel over
// column ranges (each goroutine owns its part of dst).
func (b *Backend) SumRows(dst, x kernels.Buffer, rows, cols int, beta float32) error {
	const name = "sum rows"
	if err := kernels.CheckSumRows(dst, x, rows, cols); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, x)
	if err != nil {
		return err
	}
	d, xs := s[0], s[1]
	grain := 256
	if rows*cols < elemGrain {
		grain = cols
	}
	b.par(cols, grain, func(lo, hi int) {
		dc := d[lo:hi]
		if beta == 0 {
			clear(dc)
		} else if beta != 1 {
			vecScaleTo(b.simd, dc, dc, beta)
		}
		for r := range rows {
			vecAdd(b.simd, dc, dc, xs[r*cols+lo:r*cols+hi])
		}
	})
	return nil
}

// sumSquaresBlock is the length of the float32 partial sums SumSquares
// combines in float64.
const sumSquaresBlock = 4096

// SumSquares adds Σ x[i]² to dst[0]: float32 partial sums over blocks of
// sumSquaresBlock elements, combined in float64.
func (b *Backend) SumSquares(dst, x kernels.Buffer) error {
	const name = "sum squares"
	if err := kernels.CheckSumSquares(dst, x); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, x)
	if err != nil {
		return err
	}
	d, xs := s[0], s[1]
	nb := (len(xs) + sumSquaresBlock - 1) / sumSquaresBlock
	parts := make([]float64, nb)
	b.par(nb, elemGrain/sumSquaresBlock, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			parts[i] = float64(vecSumSquares(b.simd, xs[i*sumSquaresBlock:min((i+1)*sumSquaresBlock, len(xs))]))
		}
	})
	total := float64(d[0])
	for _, p := range parts {
		total += p
	}
	d[0] = float32(total)
	return nil
}

// Act computes dst[i] = f(x[i]).
func (b *Backend) Act(f kernels.Activation, dst, x kernels.Buffer) error {
	const name = "act"
	if err := kernels.CheckAct(f, dst, x); err != nil {
		return err
	}
	s, err := b.f32s(name, dst, x)
	if err != nil {
		return err
	}
	d, xs := s[0], s[1]
	grain := actGrainElems
	if f == kernels.ReLU {
		grain = elemGrain
	}
	b.par(len(d), grain, func(lo, hi int) { actForward(b.simd, f, d[lo:hi], xs[lo:hi]) })
	return nil
}

// ActBackward computes dx[i] = dy[i]·f'(x[i]).
func (b *Backend) ActBackward(f kernels.Activation, dx, dy, x kernels.Buffer) error {
	const name = "act backward"
	if err := kernels.CheckActBackward(f, dx, dy, x); err != nil {
		return err
	}
	s, err := b.f32s(name, dx, dy, x)
	if err != nil {
		return err
	}
	d, g, xs := s[0], s[1], s[2]
	grain := actGrainElems
	if f == kernels.ReLU {
		grain = elemGrain
	}
	b.par(len(d), grain, func(lo, hi int) { actBackward(b.simd, f, d[lo:hi], g[lo:hi], xs[lo:hi]) })
	return nil
}
