package cpu

import (
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// Walsh–Hadamard transform driver. A vector of n = 2^logN elements goes
// through logN levels of butterflies; levels are independent of the order of
// the butterflies inside them, so the driver groups them for locality:
//
//   - levels 0..5 in registers (fwht64: within a ymm, then across eight);
//   - levels 6..lb−1, lb = fwhtBlockLevels(logN), on cache-sized blocks of
//     2^lb (whole vectors up to 2^17, several small vectors per block), as
//     radix-8 passes (three levels per load/store) plus one radix-2 or
//     radix-4, blocks split over threads;
//   - the levels lb..logN−1 of a longer vector as radix-8 passes over the
//     whole vector, split over threads by (group, column range), or over
//     vectors when there are enough. Gathering strips of columns into an
//     L2-sized scratch to do all of them in one trip was measured slower at
//     2^20 and 2^24: the strided gathers cost more than the passes.
//
// Vectors shorter than 64 use a plain loop. The orthonormal scale is applied
// to each block while it is in cache, after its in-block levels (the
// transform is linear, so the place of the scaling does not matter).

// fwhtBlockLog is log2 of the block (2^15 floats = 128 KiB) whose levels run
// in one cache-resident sweep.
const fwhtBlockLog = 15

// fwhtBlockLevels returns the number of levels done block by block: all of
// them up to fwhtBlockLog+2 (a block of at most 512 KiB), else
// fwhtBlockLog plus what makes the rest a whole number of radix-8 passes
// over memory.
func fwhtBlockLevels(logN int) int {
	if logN <= fwhtBlockLog+2 {
		return logN
	}
	return fwhtBlockLog + (logN-fwhtBlockLog)%3
}

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
	if logN < 6 {
		parallelFor(threads, batch, max(1, (1<<14)>>logN), func(lo, hi int) {
			v := x[lo*n : hi*n]
			fwhtSmallGeneric(v, logN)
			if ortho {
				vecScaleTo(simd, v, v, scale)
			}
		})
		return
	}
	lb := fwhtBlockLevels(logN)
	sb := max(n, 1<<lb) // a super-block: whole vectors, or one block
	parallelFor(threads, (total+sb-1)/sb, 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			v := x[s*sb : min((s+1)*sb, total)]
			fwht64(simd, v)
			fwhtPasses(simd, v, 6, lb)
			if ortho {
				vecScaleTo(simd, v, v, scale)
			}
		}
	})
	if logN == lb {
		return
	}
	if batch >= maxThreads(threads) {
		parallelFor(threads, batch, 1, func(lo, hi int) {
			for b := lo; b < hi; b++ {
				fwhtPasses(simd, x[b*n:(b+1)*n], lb, logN)
			}
		})
		return
	}
	for b := 0; b < batch; b++ {
		v := x[b*n : (b+1)*n]
		for _, ps := range fwhtPlan(lb, logN) {
			h := 1 << ps.lo
			g := h << ps.k // group size
			cw := min(h, fwhtColChunk)
			per := h / cw
			parallelFor(threads, (n/g)*per, 1, func(lo, hi int) {
				for u := lo; u < hi; u++ {
					grp, c := u/per, u%per
					fwhtRadix(simd, v[grp*g+c*cw:], ps.k, h, cw)
				}
			})
		}
	}
}

// fwhtPass is one radix-2^k pass doing levels lo..lo+k−1.
type fwhtPass struct{ lo, k int }

// fwhtPlan splits levels [from, to) into passes: a radix-2 or radix-4 for
// the remainder, then radix-8s.
func fwhtPlan(from, to int) []fwhtPass {
	var ps []fwhtPass
	l := from
	if r := (to - from) % 3; r != 0 {
		ps = append(ps, fwhtPass{l, r})
		l += r
	}
	for ; l < to; l += 3 {
		ps = append(ps, fwhtPass{l, 3})
	}
	return ps
}

// fwhtPasses applies levels [from, to) to every 2^to-element chunk of v,
// serially.
func fwhtPasses(simd bool, v []float32, from, to int) {
	for _, ps := range fwhtPlan(from, to) {
		h := 1 << ps.lo
		g := h << ps.k
		for off := 0; off < len(v); off += g {
			fwhtRadix(simd, v[off:], ps.k, h, h)
		}
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
