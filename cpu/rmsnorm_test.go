package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// rmsRef is T5LayerNorm in float64: y and rstd.
func rmsRef(x, w []float64, rows, cols int, eps float64) (y, rstd []float64) {
	y, rstd = make([]float64, rows*cols), make([]float64, rows)
	for r := range rows {
		var ss float64
		for c := range cols {
			ss += x[r*cols+c] * x[r*cols+c]
		}
		rstd[r] = 1 / math.Sqrt(ss/float64(cols)+eps)
		for c := range cols {
			y[r*cols+c] = w[c] * x[r*cols+c] * rstd[r]
		}
	}
	return y, rstd
}

// TestRMSNorm checks the forward against float64 and the backward (DX and
// the accumulated DW) against finite differences of L = Σ g·y.
func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, b := range opBackends() {
		for _, sh := range [][2]int{{1, 2}, {3, 7}, {5, 33}, {4, 512}, {2, 1000}} {
			rows, cols := sh[0], sh[1]
			const eps = 1e-6
			x, w, g, dw0 := opRandF32(rng, rows*cols), opRandF32(rng, cols), opRandF32(rng, rows*cols), opRandF32(rng, cols)
			p := kernels.RMSNormParams{Rows: rows, Cols: cols, Eps: eps,
				X: opUpload(t, b, x, true), W: opUpload(t, b, w, true), Y: opUpload(t, b, make([]float32, rows*cols), true),
				RStd: opUpload(t, b, make([]float32, rows), true)}
			opMustOK(t, b.RMSNorm(p))
			x64, w64 := opTo64(x), opTo64(w)
			y, rstd := rmsRef(x64, w64, rows, cols, eps)
			opCheckRel(t, b.Name()+" rmsnorm y", opDownload(t, b, p.Y), y, 1e-6)
			opCheckRel(t, b.Name()+" rmsnorm rstd", opDownload(t, b, p.RStd), rstd, 1e-6)

			p.DY, p.DX, p.DW = opUpload(t, b, g, true), opUpload(t, b, make([]float32, rows*cols), true), opUpload(t, b, dw0, true)
			opMustOK(t, b.RMSNormBackward(p))
			// loss is Σ g·y over row r (all rows when r < 0).
			loss := func(x, w []float64, r int) float64 {
				y, _ := rmsRef(x, w, rows, cols, eps)
				var l float64
				for i := range y {
					if r < 0 || i/cols == r {
						l += float64(g[i]) * y[i]
					}
				}
				return l
			}
			const h = 1e-6
			dx, dw := make([]float64, rows*cols), make([]float64, cols)
			for i := range x64 {
				v := x64[i]
				x64[i] = v + h
				lp := loss(x64, w64, i/cols)
				x64[i] = v - h
				dx[i] = (lp - loss(x64, w64, i/cols)) / (2 * h)
				x64[i] = v
			}
			for c := range w64 {
				v := w64[c]
				w64[c] = v + h
				lp := loss(x64, w64, -1)
				w64[c] = v - h
				dw[c] = float64(dw0[c]) + (lp-loss(x64, w64, -1))/(2*h)
				w64[c] = v
			}
			opCheckRel(t, fmt.Sprintf("%s rmsnorm %dx%d dx", b.Name(), rows, cols), opDownload(t, b, p.DX), dx, 1e-5)
			opCheckRel(t, b.Name()+" rmsnorm dw", opDownload(t, b, p.DW), dw, 1e-5)
		}
	}
}

// TestRMSNormBackwardLarge checks a shape split over threads (rows for DX,
// columns for DW) against the float64 formulas of kernels.RMSNormParams.
func TestRMSNormBackwardLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	rows, cols := 96, 700
	x, w, g, dw0 := opRandF32(rng, rows*cols), opRandF32(rng, cols), opRandF32(rng, rows*cols), opRandF32(rng, cols)
	_, rstd := rmsRef(opTo64(x), opTo64(w), rows, cols, 1e-6)
	rs := make([]float32, rows)
	for i, v := range rstd {
		rs[i] = float32(v)
	}
	dx, dw := make([]float64, rows*cols), opTo64(dw0)
	for r := range rows {
		var m float64
		for c := range cols {
			m += float64(w[c]) * float64(g[r*cols+c]) * float64(x[r*cols+c])
		}
		m /= float64(cols)
		rr := float64(rs[r])
		for c := range cols {
			i := r*cols + c
			dw[c] += float64(g[i]) * float64(x[i]) * rr
			dx[i] = rr * (float64(w[c])*float64(g[i]) - float64(x[i])*rr*rr*m)
		}
	}
	for _, b := range opBackends() {
		p := kernels.RMSNormParams{Rows: rows, Cols: cols, Eps: 1e-6, X: opUpload(t, b, x, false), W: opUpload(t, b, w, false),
			RStd: opUpload(t, b, rs, false), DY: opUpload(t, b, g, false), DX: opUpload(t, b, make([]float32, rows*cols), true),
			DW: opUpload(t, b, dw0, true)}
		opMustOK(t, b.RMSNormBackward(p))
		opCheckRel(t, b.Name()+" rmsnorm backward dx", opDownload(t, b, p.DX), dx, 1e-5)
		opCheckRel(t, b.Name()+" rmsnorm backward dw", opDownload(t, b, p.DW), dw, 1e-5)
	}
}
