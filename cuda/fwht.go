//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// The Walsh–Hadamard transform on the device (kernels/fwht.cu). Vectors of
// up to 2^fwhtMaxBase elements (fewer when the device's shared memory is
// smaller) take one kernel with one global read and one write per element;
// longer vectors first take ceil((logN−B)/5) strided passes over their upper
// levels (each reading and writing every element once), then the one-kernel
// transform of their 2^B-element pieces. Sizes 2^13..2^15 have two
// one-kernel forms (planFWHTX): fwht_e<E> (warp shuffles for the lane bits)
// and fwht_x<L>/fwht_xp<L> (two shared-memory exchanges; xp also stages the
// next vector with cp.async).

// fwhtMaxBase is log2 of the longest vector transformed by one kernel
// (2^15 floats = 128 KiB of shared memory).
const fwhtMaxBase = 15

// fwhtPassBits is the most levels one strided pass applies (2^5 elements in
// registers per thread).
const fwhtPassBits = 5

// fwhtPlan is the launch configuration of the one-kernel transform of
// vectors of 2^logN elements.
type fwhtPlan struct {
	logE   int // log2 of the elements per thread
	tb, v  int // threads per vector, vectors per block
	shared int // dynamic shared memory in bytes
}

// planFWHT returns the launch configuration for vectors of 2^logN ≤ 2^15
// elements. E = 2^logE elements per thread satisfies E ≥ TB/32 (the warp
// bits fit in a thread's registers after the shared-memory exchange) and
// TB = 2^logN/E ≤ 1024; at least 8 elements per thread where the vector has
// them; blocks of at least 128 threads (several short vectors per block).
func planFWHT(logN int) fwhtPlan {
	e := max((logN-4)/2, logN-10, min(logN, 3)) // (logN−4)/2 = ceil((logN−5)/2)
	e = min(e, 5, logN)
	tb := 1 << (logN - e)
	v := 1
	if tb < 128 {
		v = 128 / tb
	}
	shared := 0
	if logN-e > 5 { // warp bits: the vectors go through shared memory
		shared = v << logN * 4
	}
	return fwhtPlan{logE: e, tb: tb, v: v, shared: shared}
}

// fwhtBase returns the largest base size (log2) whose one-kernel transform
// fits the device's shared memory.
func (b *Backend) fwhtBase() int {
	limit := max(b.maxSharedOptin, 48<<10)
	base := fwhtMaxBase
	for base > 10 && planFWHT(base).shared > limit {
		base--
	}
	return base
}

// FWHT applies the Walsh–Hadamard transform in natural (Sylvester) order in
// place to each of batch contiguous vectors of 2^logN elements, scaled by
// 2^(−logN/2) when orthonormal.
func (b *Backend) FWHT(x kernels.Buffer, logN, batch int, orthonormal bool) error {
	if err := kernels.CheckFWHT(x, logN, batch); err != nil {
		return err
	}
	px, err := b.ptr(x)
	if err != nil {
		return fmt.Errorf("fwht: x: %w", err)
	}
	if batch == 0 || logN == 0 { // logN = 0: the 1×1 transform is the identity, scale 1
		return nil
	}
	base := min(logN, b.fwhtBase())
	// Upper levels [base, logN) in strided passes of up to five levels.
	for l0 := base; l0 < logN; {
		u := min(fwhtPassBits, logN-l0)
		f, err := b.fn("fwht", fmt.Sprintf("fwht_pass_u%d", u))
		if err != nil {
			return err
		}
		groups := int64(batch) << (logN - u)
		if err := b.launch(f, kronGrid(groups, 256, b.numSMs*32), dim3{256, 1, 1}, 0, px, groups, int32(l0)); err != nil {
			return fmt.Errorf("fwht pass l0=%d u=%d: %w", l0, u, err)
		}
		l0 += u
	}
	// The lowest base levels of each 2^base-element piece, and the scale.
	scale := float32(1)
	if orthonormal {
		scale = float32(math.Exp2(-float64(logN) / 2))
	}
	if xp, ok := b.planFWHTX(base); ok {
		return b.fwhtX(px, base, int64(batch)<<(logN-base), scale, xp)
	}
	pl := planFWHT(base)
	f, err := b.fn("fwht", fmt.Sprintf("fwht_e%d", 1<<pl.logE))
	if err != nil {
		return err
	}
	if pl.shared > 48<<10 {
		if err := f.setMaxDynamicShared(pl.shared); err != nil {
			return fmt.Errorf("fwht: %d bytes of shared memory: %w", pl.shared, err)
		}
	}
	pieces := int64(batch) << (logN - base)
	blocks := kronGrid(pieces, pl.v, b.numSMs*64)
	if err := b.launch(f, blocks, dim3{uint32(pl.tb), uint32(pl.v), 1}, pl.shared, px, int32(base), pieces, scale); err != nil {
		return fmt.Errorf("fwht logN=%d: %w", base, err)
	}
	return nil
}

// fwhtVariant picks the one-kernel transform of 2^13..2^15 elements:
// "old" (fwht_e<E>, warp shuffles), "x" (fwht_x<L>, two shared-memory
// exchanges) or "xp" (fwht_xp<L>, the same staging the next vector with
// cp.async); "" is the default by device (fwhtDefaultVariant). Only tests
// and benchmarks set it.
var fwhtVariant = ""

// fwhtDefaultVariant is the measured fastest one-kernel form for vectors of
// 2^logN elements on a device of compute capability cc. On an H100 (cc 9.0,
// 64 MiB per call, time / device-to-device copy time): 2^13 old 1.08,
// x 1.01, xp 1.08; 2^14 old 1.13, x 1.05, xp 1.11; 2^15 old 1.37, x 1.22,
// xp 1.17. Older devices keep the shuffle kernel (not measured there).
func fwhtDefaultVariant(cc, logN int) string {
	switch {
	case cc < 90:
		return "old"
	case logN == 15:
		return "xp"
	default:
		return "x"
	}
}

// fwhtXPlan is the launch configuration of fwht_x<L>/fwht_xp<L>.
type fwhtXPlan struct {
	name   string // kernel
	tb     int    // threads per block (one vector per block): 2^L/32
	shared int    // dynamic shared memory in bytes
	perSM  int    // blocks of the persistent grid per SM (0: one per vector)
}

// fwhtXStaged is the number of the 32 elements per thread that fwht_xp<L>
// stages, indexed by L−13 (the template arguments in fwht.cu).
var fwhtXStaged = [3]int{16, 16, 22}

// planFWHTX returns the exchange-kernel configuration for vectors of
// 2^logN elements and whether one is used: logN in 13..15 and a variant
// (fwhtVariant, else the device's default) whose shared memory fits, "xp"
// falling back to "x" and "x" to the shuffle kernel where it does not.
func (b *Backend) planFWHTX(logN int) (fwhtXPlan, bool) {
	if logN < 13 || logN > fwhtMaxBase {
		return fwhtXPlan{}, false
	}
	v := fwhtVariant
	if v == "" {
		v = fwhtDefaultVariant(b.cc, logN)
	}
	limit := max(b.maxSharedOptin, 48<<10)
	n := 1 << logN
	tb := n / 32
	xs := (n + n/32) * 4
	if v == "xp" {
		shared := xs + fwhtXStaged[logN-13]*tb*4
		if shared <= limit {
			// Resident blocks per SM: registers (64 per thread at most under
			// the launch bounds) and shared memory (+1 KiB reserved each).
			per := max(1, min(1024/tb, (limit+1024)/(shared+1024)))
			return fwhtXPlan{name: fmt.Sprintf("fwht_xp%d", logN), tb: tb, shared: shared, perSM: per}, true
		}
		v = "x"
	}
	if v == "x" && xs <= limit {
		return fwhtXPlan{name: fmt.Sprintf("fwht_x%d", logN), tb: tb, shared: xs}, true
	}
	return fwhtXPlan{}, false
}

// fwhtX launches the exchange kernel of plan xp on pieces vectors of
// 2^logN elements at px.
func (b *Backend) fwhtX(px uint64, logN int, pieces int64, scale float32, xp fwhtXPlan) error {
	f, err := b.fn("fwht", xp.name)
	if err != nil {
		return err
	}
	if xp.shared > 48<<10 {
		if err := f.setMaxDynamicShared(xp.shared); err != nil {
			return fmt.Errorf("fwht: %d bytes of shared memory: %w", xp.shared, err)
		}
	}
	limit := b.numSMs * 64
	if xp.perSM > 0 {
		limit = b.numSMs * xp.perSM
	}
	if err := b.launch(f, kronGrid(pieces, 1, limit), dim3{uint32(xp.tb), 1, 1}, xp.shared, px, pieces, scale); err != nil {
		return fmt.Errorf("fwht logN=%d (%s): %w", logN, xp.name, err)
	}
	return nil
}

// kronGrid returns a one-dimensional grid of ceil(work/per) blocks, at most
// limit (kernels with a grid-stride loop do the rest) and at least one.
func kronGrid(work int64, per int, limit int) dim3 {
	n := (work + int64(per) - 1) / int64(per)
	n = max(1, min(n, int64(max(limit, 1))))
	return dim3{uint32(n), 1, 1}
}
