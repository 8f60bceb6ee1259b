package cpu

import (
	"math/rand/v2"
	"testing"
)

// TestPackKernels holds each packing kernel, assembly and pure Go, to its
// definition on every element, at panel depths that exercise the 8-wide
// assembly loops and their pure-Go tails, with padded row strides.
func TestPackKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type kernel struct {
		name       string
		run        func(simd bool, dst, src []float32, ld, kc int)
		rows, cols func(kc int) int // src extent: rows × cols (cols ≤ ld)
		want       func(src []float32, ld, kc, idx int) float32
		width      int // floats of dst per l
	}
	ks := []kernel{
		{"BT16", packBT16, func(int) int { return sgemmNR }, func(kc int) int { return kc },
			func(src []float32, ld, kc, i int) float32 { return src[(i%sgemmNR)*ld+i/sgemmNR] }, sgemmNR},
		{"BN16", packBN16, func(kc int) int { return kc }, func(int) int { return sgemmNR },
			func(src []float32, ld, kc, i int) float32 { return src[(i/sgemmNR)*ld+i%sgemmNR] }, sgemmNR},
		{"A6N", packA6N, func(int) int { return sgemmMR }, func(kc int) int { return kc },
			func(src []float32, ld, kc, i int) float32 { return src[(i%sgemmMR)*ld+i/sgemmMR] }, sgemmMR},
		{"A6T", packA6T, func(kc int) int { return kc }, func(int) int { return sgemmMR },
			func(src []float32, ld, kc, i int) float32 { return src[(i/sgemmMR)*ld+i%sgemmMR] }, sgemmMR},
	}
	for _, k := range ks {
		for _, kc := range []int{1, 5, 7, 8, 9, 16, 23, 64, 255, 256} {
			for _, pad := range []int{0, 3, 17} {
				rows, cols := k.rows(kc), k.cols(kc)
				ld := cols + pad
				src := make([]float32, (rows-1)*ld+cols) // exactly what the kernel may read
				for i := range src {
					src[i] = rng.Float32()*2 - 1
				}
				for _, simd := range sgemmVariants() {
					// A guard float after the panel must survive.
					dst := make([]float32, kc*k.width+1)
					dst[len(dst)-1] = 42
					k.run(simd, dst, src, ld, kc)
					for i := 0; i < kc*k.width; i++ {
						if w := k.want(src, ld, kc, i); dst[i] != w {
							t.Fatalf("%s simd=%v kc=%d ld=%d: dst[%d] = %v, want %v", k.name, simd, kc, ld, i, dst[i], w)
						}
					}
					if dst[len(dst)-1] != 42 {
						t.Fatalf("%s simd=%v kc=%d: wrote past the panel", k.name, simd, kc)
					}
				}
			}
		}
	}
}

// TestTranspose holds transpose (assembly 8×8 blocks and Go edges, and
// the pure-Go twin) to its definition at block-multiple and ragged sizes
// with padded strides, and checks that nothing outside the block is
// written.
func TestTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	for _, rows := range []int{1, 7, 8, 9, 16, 24, 31, 128} {
		for _, cols := range []int{1, 5, 8, 13, 32, 40} {
			for _, pad := range []int{0, 3} {
				lds, ldd := rows+pad, cols+2*pad
				src := make([]float32, (cols-1)*lds+rows)
				for i := range src {
					src[i] = rng.Float32()*2 - 1
				}
				for _, simd := range sgemmVariants() {
					dst := make([]float32, (rows-1)*ldd+cols+1)
					for i := range dst {
						dst[i] = 42
					}
					transpose(simd, dst, ldd, src, lds, rows, cols)
					for i := range dst {
						r, c := i/ldd, i%ldd
						want := float32(42)
						if r < rows && c < cols {
							want = src[c*lds+r]
						}
						if dst[i] != want {
							t.Fatalf("rows=%d cols=%d pad=%d simd=%v: dst[%d] (row %d, col %d) = %v, want %v", rows, cols, pad, simd, i, r, c, dst[i], want)
						}
					}
				}
			}
		}
	}
}
