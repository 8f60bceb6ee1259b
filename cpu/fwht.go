package cpu

import (
	"fmt"
	"math"
	"sync"

	"github.com/compacter-go/compacter/kernels"
)

// Walsh–Hadamard transform driver. A vector of n = 2^logN elements goes
// through logN levels of butterflies; levels are independent of the order of
// the butterflies inside them, so the driver groups them for locality:
//
//   - levels 0..5 in registers (fwht64: within a ymm, then across eight);
//   - levels 6..b−1 of every 2^b-element sub-vector (a leaf), b = min(logN,
//     fwhtBaseLog), while it sits in L1: radix-8 passes (three levels per
//     load/store) plus one radix-2 or radix-4;
//   - the levels above, depth first (fwhtRec): the top three levels of a
//     vector are one radix-8 pass that runs after its eight sub-vectors
//     have been transformed completely, recursively, so every pass but the
//     outermost works on a sub-vector that still sits in L2 or L3, and a
//     2^24-element vector crosses DRAM about twice instead of once per
//     pass. The remainder (logN − b mod 3) is the lowest pass above b.
//     (Passes of four to six levels over column blocks copied through an
//     L1 scratch, one trip through memory per six levels, measured 1.2–1.5×
//     slower at 2^16..2^24 on the Zen 3 VM: the eight long row streams of
//     a radix-8 sweep suit its prefetchers better than 16..64 short ones.)
//     From 2^fwhtR64Log on, the top two radix-8 passes run together by
//     column blocks, in place and with the same butterflies (fwhtR64);
//   - from 2^fwhtPfLog on, each leaf prefetches the next one in software
//     while it computes, so that leaves from DRAM do not wait for it.
//
// Threads split the vectors of a batch, or the sub-vectors and then the
// columns of the top pass of one long vector. Vectors shorter than 64 use
// a plain loop. The orthonormal scale is applied to each leaf after its
// levels (the transform is linear, so the place of the scaling does not
// matter). The grouping depends only on logN, so the result is the same
// bits for any thread count, with or without SIMD.

// fwhtBaseLog is log2 of the sub-vector (2^12 floats = 16 KiB) whose lower
// levels run in L1.
const fwhtBaseLog = 12

// fwhtParLog is log2 of the shortest vector whose transform is split over
// threads (shorter ones are split only by batch).
const fwhtParLog = 16

// fwhtColChunk is the column width of one parallel unit of an upper pass.
const fwhtColChunk = 1024

// fwhtPfLog is log2 of the shortest vector whose leaves prefetch in
// software: each leaf prefetches the next one while it computes (the
// hardware prefetchers stop at every 4 KiB page, so a leaf that comes from
// DRAM would wait for most of its lines). Shorter vectors sit in L2 or L3
// when they are transformed again and again, where prefetches only cost.
const fwhtPfLog = 22

// fwhtR64Log is log2 of the shortest vector whose top six levels fwhtRec
// runs as one sweep over column blocks (fwhtR64) instead of a radix-8 pass
// over each of its eight sub-vectors (in L3) and then one over the whole
// (from DRAM): for a vector the size of L3 or more, the 64 rows of a block
// come from DRAM once for the six levels and the second pass finds them in
// L2; the passes over L3 go (2^24: 0.5–1 ms of 15 less on the Zen 3 VM).
// The butterflies and their order per element are those of the radix-8
// passes, so the bits do not change. fwhtR64Width is the column width of
// a block (64 rows of 4 KiB, 256 KiB).
const (
	fwhtR64Log   = 23
	fwhtR64Width = 1024
)

// fwhtEmitChunk is the column width of one block of the top pass of
// FWHTFused: 8 rows of 512 floats (16 KiB) go through L1 to emit.
const fwhtEmitChunk = 512

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
			fwhtRec(simd, x[b*n:(b+1)*n], logN, ortho, scale, nil, 0, fwhtAhead(x[(b+1)*n:], logN))
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
				fwhtRec(simd, x[b*n:(b+1)*n], logN, ortho, scale, nil, 0, fwhtAhead(x[(b+1)*n:hi*n], logN))
			}
		})
		return
	}
	for b := 0; b < batch; b++ {
		fwhtRecParallel(simd, threads, x[b*n:(b+1)*n], logN, ortho, scale, nil)
	}
}

// fwhtTop returns the number k of levels of the top pass of a 2^logN
// transform (logN > fwhtBaseLog) and the span h = 2^(logN−k) of its rows.
func fwhtTop(logN int) (k, h int) {
	k = min(3, logN-fwhtBaseLog)
	return k, 1 << (logN - k)
}

// fwhtAhead returns the memory a transform of a 2^logN vector prefetches
// after the vector, rest (what follows it in its batch: the next vector's
// first leaf), or nil when it does not prefetch (logN < fwhtPfLog).
func fwhtAhead(rest []float32, logN int) []float32 {
	if logN < fwhtPfLog {
		return nil
	}
	return rest[:0:min(len(rest), 1<<fwhtBaseLog)]
}

// fwhtRec applies all logN ≥ 6 levels to v (2^logN elements) depth first,
// serially, scaling by scale when ortho. When load is not nil, it first
// fills each leaf v[i:i+2^min(logN, fwhtBaseLog)] with load(leaf, off+i).
// When ahead is not nil, it prefetches (see fwhtPfLog): ahead[:cap(ahead)]
// is what follows v (empty at the end), whose start the last leaf of v
// prefetches; the prefetches never touch the values, so ahead only decides
// the speed.
func fwhtRec(simd bool, v []float32, logN int, ortho bool, scale float32, load func([]float32, int), off int, ahead []float32) {
	if logN <= fwhtBaseLog {
		if load != nil {
			load(v, off)
		}
		if ahead != nil && simd {
			fwht64PfAVX2(v, ahead[:min(cap(ahead), len(v))])
		} else {
			fwht64(simd, v)
		}
		fwhtPasses(simd, v, 6, logN)
		if ortho {
			vecScaleTo(simd, v, v, scale)
		}
		return
	}
	k, h := fwhtTop(logN)
	if logN >= fwhtR64Log {
		k, h = 6, h>>3
	}
	for s := 0; s < 1<<k; s++ {
		fwhtRec(simd, v[s*h:(s+1)*h], logN-k, ortho, scale, load, off+s*h, fwhtNext(v, ahead, s, h))
	}
	if k == 6 {
		fwhtR64(simd, v, h)
		return
	}
	fwhtRadix(simd, v, k, h, h)
}

// fwhtR64 applies the levels of spans h..32h to v (64h elements) as the two
// radix-8 passes that fwhtRec would run, by blocks of fwhtR64Width columns
// of all 64 rows, so that the second pass finds its rows in L2.
func fwhtR64(simd bool, v []float32, h int) {
	w := min(h, fwhtR64Width)
	for c := 0; c < h; c += w {
		for a := 0; a < 8; a++ {
			fwhtRadix(simd, v[a*8*h+c:], 3, h, w)
		}
		for b := 0; b < 8; b++ {
			fwhtRadix(simd, v[b*h+c:], 3, 8*h, w)
		}
	}
}

// fwhtNext returns the ahead argument of fwhtRec for sub-vector s (span h)
// of v, given v's own ahead: the rest of v, or ahead after the last one.
func fwhtNext(v, ahead []float32, s, h int) []float32 {
	if ahead == nil || (s+1)*h >= len(v) {
		return ahead
	}
	return v[(s+1)*h : (s+1)*h : len(v)]
}

// fwhtLeaf applies all logN levels to v (2^logN elements, logN ≤
// fwhtBaseLog).
func fwhtLeaf(simd bool, v []float32, logN int) {
	if logN < 6 {
		fwhtSmallGeneric(v, logN)
		return
	}
	fwht64(simd, v)
	fwhtPasses(simd, v, 6, logN)
}

// fwhtRecParallel is fwhtRec for one long vector (logN > fwhtBaseLog) on up
// to threads goroutines: the sub-vectors below the top pass in parallel,
// then the columns of the top pass.
func fwhtRecParallel(simd bool, threads int, v []float32, logN int, ortho bool, scale float32, load func([]float32, int)) {
	fwhtSubsParallel(simd, threads, v, logN, ortho, scale, load)
	k, h := fwhtTop(logN)
	cw := min(h, fwhtColChunk)
	parallelFor(threads, h/cw, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			fwhtRadix(simd, v[c*cw:], k, h, cw)
		}
	})
}

// fwhtSubsParallel transforms the 2^k sub-vectors below the top pass of v
// (see fwhtRec) in parallel.
func fwhtSubsParallel(simd bool, threads int, v []float32, logN int, ortho bool, scale float32, load func([]float32, int)) {
	k, h := fwhtTop(logN)
	parallelFor(threads, 1<<k, 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			fwhtRec(simd, v[s*h:(s+1)*h], logN-k, ortho, scale, load, s*h, fwhtAhead(v[(s+1)*h:hi*h], logN))
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

// fwhtRadix dispatches the in-place radix-2^k kernel (k ≤ 3) on one group
// of v with span h and column width w.
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

// fwhtRadixTo dispatches the radix-2^k kernel (k ≤ 3) that reads the rows
// src[j+r·hs] and writes them to dst[j+r·hd], r < 2^k, j < w. (Separate
// from fwhtRadix: the in-place kernels' shorter setup is measurably faster
// on the many short groups of small transforms.)
func fwhtRadixTo(simd bool, dst, src []float32, k, hd, hs, w int) {
	switch {
	case k == 3 && simd:
		fwhtR8ToAVX2(dst, src, hd, hs, w)
	case k == 3:
		fwhtR8ToGeneric(dst, src, hd, hs, w)
	case k == 2 && simd:
		fwhtR4ToAVX2(dst, src, hd, hs, w)
	case k == 2:
		fwhtR4ToGeneric(dst, src, hd, hs, w)
	case simd:
		fwhtR2ToAVX2(dst, src, hd, hs, w)
	default:
		fwhtR2ToGeneric(dst, src, hd, hs, w)
	}
}

// fwhtFused is the unnormalised transform of one vector x of 2^logN
// elements whose input comes from load (nil: x holds it) and whose output
// goes to emit instead of x (see FWHTFused).
func fwhtFused(simd bool, threads int, x []float32, logN int, load func([]float32, int), parts int, emit func(int, []float32, int)) {
	if logN <= fwhtBaseLog {
		if load != nil {
			load(x, 0)
		}
		fwhtLeaf(simd, x, logN)
		emit(0, x, 0)
		return
	}
	if maxThreads(threads) > 1 && logN >= fwhtParLog {
		fwhtSubsParallel(simd, threads, x, logN, false, 1, load)
	} else {
		fwhtRecSubs(simd, x, logN, load)
	}
	k, h := fwhtTop(logN)
	w := min(h, fwhtEmitChunk)
	nch := h / w
	parts = min(max(parts, 1), nch)
	parallelFor(threads, parts, 1, func(lo, hi int) {
		bp := fwhtEmitPool.Get().(*[fwhtEmitChunk << 3]float32)
		defer fwhtEmitPool.Put(bp)
		out := bp[:w<<k]
		for p := lo; p < hi; p++ {
			for ch := p * nch / parts; ch < (p+1)*nch/parts; ch++ {
				c := ch * w
				fwhtRadixTo(simd, out, x[c:], k, w, h, w)
				for r := 0; r < 1<<k; r++ {
					emit(p, out[r*w:(r+1)*w], r*h+c)
				}
			}
		}
	})
}

// fwhtEmitPool keeps the 16 KiB blocks the top pass of fwhtFused emits
// from, between calls and goroutines.
var fwhtEmitPool = sync.Pool{New: func() any { return new([fwhtEmitChunk << 3]float32) }}

// fwhtRecSubs transforms the sub-vectors below the top pass of x serially.
func fwhtRecSubs(simd bool, x []float32, logN int, load func([]float32, int)) {
	k, h := fwhtTop(logN)
	for s := 0; s < 1<<k; s++ {
		fwhtRec(simd, x[s*h:(s+1)*h], logN-k, false, 1, load, s*h, fwhtAhead(x[(s+1)*h:], logN))
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

// FWHTFused computes y = H x, the unnormalised Walsh–Hadamard transform of
// one vector of 2^logN elements, streaming its input and output so that
// neither needs a pass through memory of its own: x is the working space
// (at least 2^logN floats). When load is not nil, the transform first
// calls load(v, off) to fill each block v = x[off:off+len(v)] of the input
// (blocks of up to 4096 elements, each once, while they sit in L1);
// otherwise x holds the input. The output is not left in x: emit(part, v,
// off) receives y[off:off+len(v)] for every off, each element once, in
// blocks of at least 512 elements (all of y when logN ≤ 12). The blocks are split into up to parts
// (at least 1) groups, fixed by logN and parts alone; the blocks of one
// group go to emit in a fixed order on one goroutine, so emit may
// accumulate per group without locks and the result does not depend on
// threads. load and emit may run concurrently for different blocks (up to
// threads goroutines; 0 means GOMAXPROCS); v is only valid during the
// call.
func FWHTFused(x []float32, logN, threads int, load func(v []float32, off int), parts int, emit func(part int, v []float32, off int)) error {
	if logN < 0 || logN > 30 || len(x) < 1<<logN || emit == nil {
		return fmt.Errorf("cpu: fwht fused: logN %d, %d elements, emit set %v: %w", logN, len(x), emit != nil, kernels.ErrShape)
	}
	fwhtFused(hasAVX2FMA, threads, x[:1<<logN], logN, load, parts, emit)
	return nil
}
