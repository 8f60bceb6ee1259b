package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// gbps reports bytes per op as GB/s.
func gbps(b *testing.B, bytes float64) {
	b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkVecKernels compares the assembly vector kernels with their
// pure-Go twins (one goroutine), in GB/s of memory touched.
func BenchmarkVecKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1024, 1 << 16, 1 << 20} {
		x, y, d := opRandF32(rng, n), opRandF32(rng, n), make([]float32, n)
		var sink float32
		kernels := []struct {
			name  string
			bytes int
			asm   func()
			gen   func()
		}{
			{"add", 12, func() { addAVX2(d, x, y) }, func() { addGeneric(d, x, y) }},
			{"axpby", 12, func() { axpbyAVX2(d, x, 0.5, 0.25) }, func() { axpbyGeneric(d, x, 0.5, 0.25) }},
			{"scale", 8, func() { scaleToAVX2(d, d, 1) }, func() { scaleToGeneric(d, d, 1) }},
			{"sumsquares", 4, func() { sink += sumSquaresAVX2(x) }, func() { sink += sumSquaresGeneric(x) }},
			{"dot", 8, func() { sink += dotAVX2(x, y) }, func() { sink += dotGeneric(x, y) }},
			{"relu", 8, func() { reluAVX2(d, x) }, func() { reluGeneric(d, x) }},
			{"relubackward", 12, func() { reluBackwardAVX2(d, y, x) }, func() { reluBackwardGeneric(d, y, x) }},
		}
		for _, k := range kernels {
			for _, v := range []struct {
				name string
				fn   func()
			}{{"asm", k.asm}, {"generic", k.gen}} {
				b.Run(fmt.Sprintf("%s/n=%d/%s", k.name, n, v.name), func(b *testing.B) {
					for b.Loop() {
						v.fn()
					}
					gbps(b, float64(k.bytes*n))
				})
			}
		}
		_ = sink
	}
}

// benchBackends are the SIMD and pure-Go backends with all threads.
func benchBackends() []*Backend {
	return []*Backend{New(Options{}), New(Options{PureGo: true})}
}

// BenchmarkRMSNorm runs T5LayerNorm at a T5-base shape (4096 tokens × 768),
// forward and backward, in GB/s of the tensors read and written.
func BenchmarkRMSNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	rows, cols := 4096, 768
	for _, be := range benchBackends() {
		p := kernels.RMSNormParams{Rows: rows, Cols: cols, Eps: 1e-6,
			X: opUpload(b, be, opRandF32(rng, rows*cols), false), W: opUpload(b, be, opRandF32(rng, cols), false),
			Y: opUpload(b, be, make([]float32, rows*cols), false), RStd: opUpload(b, be, make([]float32, rows), false),
			DY: opUpload(b, be, opRandF32(rng, rows*cols), false), DX: opUpload(b, be, make([]float32, rows*cols), false),
			DW: opUpload(b, be, make([]float32, cols), false)}
		b.Run("forward/"+be.Name(), func(b *testing.B) {
			for b.Loop() {
				opMustOK(b, be.RMSNorm(p))
			}
			gbps(b, float64(8*rows*cols))
		})
		b.Run("backward/"+be.Name(), func(b *testing.B) {
			for b.Loop() {
				opMustOK(b, be.RMSNormBackward(p))
			}
			gbps(b, float64(12*rows*cols))
		})
	}
}

// BenchmarkSoftmax runs the attention softmax at a T5 shape (12 heads × 1024
// query rows × 128 keys) with a position-bias mask, forward and backward, in
// GB/s of the scores read and written.
func BenchmarkSoftmax(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	heads, rows, cols := 12, 1024, 128
	n := heads * rows * cols
	for _, be := range benchBackends() {
		x := opUpload(b, be, opRandF32(rng, n), false)
		y := opUpload(b, be, make([]float32, n), false)
		bias := opUpload(b, be, opRandF32(rng, n), false)
		p := kernels.SoftmaxParams{X: x, Y: y, Batch: 1, Heads: heads, Rows: rows, Cols: cols,
			Masks: []kernels.AdditiveMask{{M: bias, StrideHead: rows * cols, StrideRow: cols}}}
		b.Run("forward/"+be.Name(), func(b *testing.B) {
			for b.Loop() {
				opMustOK(b, be.Softmax(p))
			}
			gbps(b, float64(12*n))
		})
		b.Run("backward/"+be.Name(), func(b *testing.B) {
			for b.Loop() {
				opMustOK(b, be.SoftmaxBackward(x, bias, y, heads*rows, cols))
			}
			gbps(b, float64(12*n))
		})
	}
}

// BenchmarkFWHT transforms 2^24 floats per op (batch vectors of 2^logN; one
// vector for logN = 24) and reports GB/s = 2·4·n bytes/s, next to a memmove
// (copy) of the same bytes.
func BenchmarkFWHT(b *testing.B) {
	for _, logN := range []int{10, 16, 20, 24} {
		n := 1 << logN
		batch := max(1, (1<<20)/n)
		if logN == 24 {
			batch = 1
		}
		total := n * batch
		x := opRandF32(rand.New(rand.NewPCG(4, 4)), total)
		for _, be := range benchBackends() {
			buf := opUpload(b, be, x, false)
			b.Run(fmt.Sprintf("logN=%d/batch=%d/%s", logN, batch, be.Name()), func(b *testing.B) {
				for b.Loop() {
					opMustOK(b, be.FWHT(buf, logN, batch, true))
				}
				gbps(b, float64(8*total))
			})
		}
		b.Run(fmt.Sprintf("logN=%d/batch=%d/memmove", logN, batch), func(b *testing.B) {
			d := make([]float32, total)
			for b.Loop() {
				copy(d, x)
			}
			gbps(b, float64(8*total))
		})
	}
}

// BenchmarkAct runs every activation forward and backward on 2^20 elements
// (all threads), in GB/s of the tensors read and written.
func BenchmarkAct(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	n := 1 << 20
	for _, be := range benchBackends() {
		x, dy := opUpload(b, be, opRandF32(rng, n), false), opUpload(b, be, opRandF32(rng, n), false)
		y := opUpload(b, be, make([]float32, n), false)
		for f := kernels.ReLU; f <= kernels.Sigmoid; f++ {
			b.Run(fmt.Sprintf("%s/forward/%s", f, be.Name()), func(b *testing.B) {
				for b.Loop() {
					opMustOK(b, be.Act(f, y, x))
				}
				gbps(b, float64(8*n))
			})
			b.Run(fmt.Sprintf("%s/backward/%s", f, be.Name()), func(b *testing.B) {
				for b.Loop() {
					opMustOK(b, be.ActBackward(f, y, dy, x))
				}
				gbps(b, float64(12*n))
			})
		}
	}
}
