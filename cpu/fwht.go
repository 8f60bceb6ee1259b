package cpu

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// Walsh–Hadamard transform driver. A vector of n = 2^logN elements goes
// through logN levels of butterflies; levels are independent of the order of
// the butterflies inside them, so the driver groups them for locality:
//
//   - levels 0..5 in registers (fwht64: within a ymm, then across eight);
//   - levels 6..b−1 of every 2^b-element sub-vector, b = min(logN,
//     fwhtBaseLog), while it sits in L1: radix-8 passes (three levels per
//     load/store) plus one radix-2 or radix-4;
//   - the levels above, depth first (fwhtRec): the top three levels of a
//     vector are one radix-8 pass that runs after its eight sub-vectors
//     have been transformed completely, recursively, so every pass but the
//     outermost works on a sub-vector that still sits in L2 or L3, and a
//     2^24-element vector crosses DRAM about twice instead of once per
//     pass. The remainder (logN − b mod 3) is the lowest pass above b.
//
// Threads split the vectors of a batch, or the eight sub-vectors and then
// the columns of the top pass of one long vector. Vectors shorter than 64
// use a plain loop. The orthonormal scale is applied to each L1 sub-vector
// after its levels (the transform is linear, so the place of the scaling
// does not matter). The grouping never changes the order of the levels, so
// the result is the same bits for any thread count.

// fwhtBaseLog is log2 of the sub-vector (2^12 floats = 16 KiB) whose lower
// levels run in L1.
const fwhtBaseLog = 12

// fwhtParLog is log2 of the shortest vector whose transform is split over
// threads (shorter ones are split only by batch).
const fwhtParLog = 16

// fwhtColChunk is the column width of one parallel unit of an upper pass.
const fwhtColChunk = 1024

// fwht transforms batch contiguous vectors of 2^logN elements of x in place.
func fwht(simd bool, threads int, x []float32, logN, batch int, ortho bool) {
	n := 1 << logN
	total := n * batch
	if total == 0 {
		return
	}
	x = x[:total]
	scale := float32(1)
	if ortho {
		scale = float32(math.Exp2(-float64(logN) / 2))
	}
	switch {
	case logN < 6:
		fwhtSmall(simd, threads, x, logN, batch, ortho, scale)
	case total <= 1<<fwhtParLog || maxThreads(threads) == 1:
		for b := 0; b < batch; b++ {
			fwhtRec(simd, x[b*n:(b+1)*n], logN, ortho, scale)
		}
	default:
		fwhtParallel(simd, threads, x, logN, batch, ortho, scale)
	}
}

// fwhtSmall transforms vectors shorter than 64 elements, split over
// threads by batch. (The closures live outside fwht so that its locals do
// not escape to the heap on the serial path.)
func fwhtSmall(simd bool, threads int, x []float32, logN, batch int, ortho bool, scale float32) {
	n := 1 << logN
	parallelFor(threads, batch, max(1, (1<<14)>>logN), func(lo, hi int) {
		v := x[lo*n : hi*n]
		fwhtSmallGeneric(v, logN)
		if ortho {
			vecScaleTo(simd, v, v, scale)
		}
	})
}

// fwhtParallel transforms vectors of at least 64 elements on several
// threads: by batch, or within each long vector.
func fwhtParallel(simd bool, threads int, x []float32, logN, batch int, ortho bool, scale float32) {
	n := 1 << logN
	if logN < fwhtParLog || batch >= maxThreads(threads) {
		parallelFor(threads, batch, max(1, (1<<fwhtParLog)>>logN), func(lo, hi int) {
			for b := lo; b < hi; b++ {
				fwhtRec(simd, x[b*n:(b+1)*n], logN, ortho, scale)
			}
		})
		return
	}
	for b := 0; b < batch; b++ {
		fwhtRecParallel(simd, threads, x[b*n:(b+1)*n], logN, ortho, scale)
	}
}

// fwhtRec applies all logN ≥ 6 levels to v (2^logN elements) depth first,
// serially, scaling by scale when ortho.
func fwhtRec(simd bool, v []float32, logN int, ortho bool, scale float32) {
	if logN <= fwhtBaseLog {
		fwht64(simd, v)
		fwhtPasses(simd, v, 6, logN)
		if ortho {
			vecScaleTo(simd, v, v, scale)
		}
		return
	}
	k := min(3, logN-fwhtBaseLog)
	h := 1 << (logN - k) // sub-vector length = span of the top pass
	for s := 0; s < 1<<k; s++ {
		fwhtRec(simd, v[s*h:(s+1)*h], logN-k, ortho, scale)
	}
	fwhtRadix(simd, v, k, h, h)
}

// fwhtRecParallel is fwhtRec for one long vector (logN > fwhtBaseLog) on up
// to threads goroutines: the sub-vectors below the top pass in parallel,
// then the columns of the top pass.
func fwhtRecParallel(simd bool, threads int, v []float32, logN int, ortho bool, scale float32) {
	k := min(3, logN-fwhtBaseLog)
	h := 1 << (logN - k)
	parallelFor(threads, 1<<k, 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			fwhtRec(simd, v[s*h:(s+1)*h], logN-k, ortho, scale)
		}
	})
	cw := min(h, fwhtColChunk)
	parallelFor(threads, h/cw, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			fwhtRadix(simd, v[c*cw:], k, h, cw)
		}
	})
}

// fwhtPasses applies levels [from, to) to every 2^to-element chunk of v,
// serially, as radix-8 passes after one radix-4 (3q+2 levels), two radix-4
// (3q+1 ≥ 4 levels: a radix-2 pass costs nearly as much as a radix-8) or a
// lone radix-2 (one level).
func fwhtPasses(simd bool, v []float32, from, to int) {
	n := to - from
	for l := from; l < to; {
		k := 3
		switch {
		case n == 1:
			k = 1
		case n%3 == 2 && l == from, n%3 == 1 && l < from+4:
			k = 2
		}
		h := 1 << l
		g := h << k
		for off := 0; off < len(v); off += g {
			fwhtRadix(simd, v[off:], k, h, h)
		}
		l += k
	}
}

// fwht64 dispatches the levels 0..5 kernel.
func fwht64(simd bool, v []float32) {
	if simd {
		fwht64AVX2(v)
	} else {
		fwht64Generic(v)
	}
}

// fwhtRadix dispatches the radix-2^k kernel on one group of v with span h
// and column width w.
func fwhtRadix(simd bool, v []float32, k, h, w int) {
	switch {
	case k == 3 && simd:
		fwhtR8AVX2(v, h, w)
	case k == 3:
		fwhtR8Generic(v, h, w)
	case k == 2 && simd:
		fwhtR4AVX2(v, h, w)
	case k == 2:
		fwhtR4Generic(v, h, w)
	case simd:
		fwhtR2AVX2(v, h, w)
	default:
		fwhtR2Generic(v, h, w)
	}
}

// FWHT applies the Walsh–Hadamard transform in natural (Sylvester) order in
// place to each of batch contiguous vectors of 2^logN elements, scaled by
// 2^(−logN/2) when orthonormal.
func (b *Backend) FWHT(x kernels.Buffer, logN, batch int, orthonormal bool) error {
	if err := kernels.CheckFWHT(x, logN, batch); err != nil {
		return err
	}
	s, err := b.f32s("fwht", x)
	if err != nil {
		return err
	}
	fwht(b.simd, b.threads, s[0], logN, batch, orthonormal)
	return nil
}

// FWHTFloat32 applies the Walsh–Hadamard transform in natural (Sylvester)
// order in place to each of batch contiguous vectors of 2^logN elements of
// x, scaled by 2^(−logN/2) when orthonormal, on up to threads goroutines (0
// means GOMAXPROCS). It is the FWHT op on a plain slice, for packages that
// transform their own memory (fastfood); it uses the AVX2 kernels when the
// build and the CPU allow them (SIMD), and gives the same bits as the
// backend's FWHT.
func FWHTFloat32(x []float32, logN, batch, threads int, orthonormal bool) error {
	if logN < 0 || logN > 30 || batch < 0 {
		return fmt.Errorf("cpu: fwht: logN %d, batch %d: %w", logN, batch, kernels.ErrShape)
	}
	if need := batch << logN; len(x) < need {
		return fmt.Errorf("cpu: fwht: %d elements, want %d·2^%d = %d: %w", len(x), batch, logN, need, kernels.ErrShape)
	}
	fwht(hasAVX2FMA, threads, x, logN, batch, orthonormal)
	return nil
}
