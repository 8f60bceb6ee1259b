package fastfood

import (
	"fmt"
	"math"
	"sync"

	"github.com/compacter-go/compacter/kernels"
)

// StateVersion says how a seeded projection derives its Π and G from its
// seed (B is the same in every version). A saved θ_d reproduces its weights
// only with the version it was trained with, so savers record it (peft's
// adapter_config.json does) and loaders pass it to NewVersion.
type StateVersion int

const (
	// StateV1 is the state of the first releases: Π a keyed bijection of
	// all of [0, L), G from a 65536-entry quantile table (256 KiB). Every
	// element reads a random place of the m-point transform and of the
	// table: two L2 accesses per element on the CPU.
	StateV1 StateVersion = 1
	// StateV2 is block-local and works on groups of eight: [0, L) is cut
	// into blocks of 2^c elements (c = min(log₂m, 12)) and each block into
	// groups of eight; Π maps block b onto block β(b), group g of it onto
	// group τ_b(g) and permutes the eight lanes, and G reads a group of
	// eight entries of a 4096-entry quantile table (16 KiB) and permutes
	// those. A block reads one 16 KiB chunk of the m-point transform, every
	// access stays in L1, and the AVX2 kernels move eight elements per
	// load and permute. See blockState. The default.
	StateV2 StateVersion = 2
	// LatestState is the version New and a zero Config.State use.
	LatestState = StateV2
)

// String returns "v1" or "v2".
func (v StateVersion) String() string { return fmt.Sprintf("v%d", int(v)) }

// resolve returns v, LatestState for 0, or an error for an unknown version.
func (v StateVersion) resolve() (StateVersion, error) {
	switch v {
	case 0:
		return LatestState, nil
	case StateV1, StateV2:
		return v, nil
	}
	return 0, fmt.Errorf("fastfood: unknown random-state version %d (known: 1, 2)", int(v))
}

// blockLogMax is log2 of the largest Π block of StateV2 (2^12 floats =
// 16 KiB of the m-point transform per block).
const blockLogMax = 12

// gauss2Log is log2 of the length of StateV2's quantile table.
const gauss2Log = 12

// gaussTable2 is StateV2's quantile table: the N(0,1) quantiles Q[j] at
// (j+½)/4096, stored by octile so that each group of eight holds one
// quantile of every octile: gaussTable2()[8t+r] = Q[512r+t].
var gaussTable2 = sync.OnceValue(func() *[1 << gauss2Log]float32 {
	var q, t [1 << gauss2Log]float32
	quantiles(q[:])
	for j := range t {
		t[j] = q[(j&7)<<9|j>>3]
	}
	return &t
})

// quantiles fills t (even length n) with the N(0,1) quantiles at
// (j+½)/n, exactly antisymmetric.
func quantiles(t []float32) {
	n := len(t)
	for j := range t[:n/2] {
		u := (float64(j) + 0.5) / float64(n)
		q := float32(math.Sqrt2 * math.Erfinv(2*u-1))
		t[j], t[n-1-j] = q, -q
	}
}

// lanePerms holds StateV2's 64 permutations of eight lanes (rows 0..63)
// and their inverses (rows 64..127), as VPERMPS index vectors: the
// definition in package kernels (FastfoodLanePerms), shared with the
// device backends.
var lanePerms = kernels.FastfoodLanePerms

// groupParams are the constants of StateV2's group maps, in the layout
// block_amd64.s reads (six uint32 and padding). For group g of block b,
// with the block keys key_b and kg_b:
//
//	τ_b(g):  y = (g·a2 + key_b) & gmask; y ^= y >> shift2;
//	         y = (y·a3) & gmask;          τ = y ^ y >> shift2
//	τ'_b(g): z = (g·a4 + kg_b) & 511;     z ^= z >> 5;
//	         z = (z·a5) & 511;            τ' = z ^ z >> 5
//	h = Mix32(key_b + g), pu = h >> 26, pg = (h >> 20) & 63
//
// and Π(b·2^c + 8g + r) = β(b)·2^c + 8τ + lanePerms[pu][r],
// G(b·2^c + 8g + r) = gaussTable2()[8τ' + lanePerms[pg][r]].
type groupParams struct {
	a2, a3, gmask, shift2, a4, a5 uint32
	_                             [2]uint32
}

// tau returns τ_b(g) for the block key key.
func (q *groupParams) tau(g, key uint32) uint32 {
	y := (g*q.a2 + key) & q.gmask
	y ^= y >> q.shift2
	y = (y * q.a3) & q.gmask
	return y ^ y>>q.shift2
}

// tauG returns τ'_b(g) for the block key kg.
func (q *groupParams) tauG(g, kg uint32) uint32 {
	z := (g*q.a4 + kg) & 511
	z ^= z >> 5
	z = (z * q.a5) & 511
	return z ^ z>>5
}

// lanes returns the lane permutations pu and pg of group g.
func lanes(g, key uint32) (pu, pg uint32) {
	h := kernels.Mix32(key + g)
	return h >> 26, h >> 20 & 63
}

// blockState is the seeded Π and G of a StateV2 projection: blocks of 2^c
// elements (c = min(log₂m, 12), m ≥ 8 unless L < 8), β a StateV1-style
// bijection of the L/2^c blocks (its mask covers log₂L − c bits; its mm
// field is unused), kb and kg the keys of the per-block keys
// key_b = Mix32(b + kb) and kg_b = Mix32(b + kg) (kernels.Mix32), and q the
// group maps.
// When L < 8 (c < 3) Π is the identity and G follows the formula with
// b = g = 0 and r = i.
type blockState struct {
	c      int
	beta   idxParams
	kb, kg uint32
	q      groupParams
}

func newBlockState(k stateKeys, logL, logM int) blockState {
	c := min(logM, blockLogMax)
	r := func(i uint64) uint32 { return uint32(kernels.Mix64(k.p + i)) }
	gb := max(0, c-3)
	return blockState{
		c:    c,
		beta: newIdxParams(k, logL-c, 0),
		kb:   r(4),
		kg:   uint32(k.g),
		q: groupParams{a2: r(5) | 1, a3: r(6) | 1, gmask: uint32(1)<<uint(gb) - 1,
			shift2: uint32(max(1, (gb+1)/2)), a4: r(7) | 1, a5: r(8) | 1},
	}
}

// v2LogM returns log2 of the m-point span StateV2 uses: at least 8
// entries (a group), at most L.
func v2LogM(logL, logM int) int { return min(max(logM, 3), logL) }

// keys returns the per-block keys of block b.
func (s *blockState) keys(b uint32) (key, kg uint32) {
	return kernels.Mix32(b + s.kb), kernels.Mix32(b + s.kg)
}

// gauss returns G(i).
func (s *blockState) gauss(i uint32) float32 {
	b, lo := uint32(0), i
	if s.c >= 3 {
		b, lo = i>>uint(s.c), i&(1<<uint(s.c)-1)
	}
	key, kg := s.keys(b)
	_, pg := lanes(lo>>3, key)
	return gaussTable2()[s.q.tauG(lo>>3, kg)<<3|uint32(lanePerms()[pg][lo&7])]
}

// groupKernel is the signature shared by the group gather and scatter
// kernels: v holds the elements of consecutive groups g0, g0+1, … of one
// block, chunk the block's chunk of the m-point vector.
type groupKernel func(v, chunk []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)

// groups runs a group kernel over v = the elements [i0, i0+len(v)) (i0 and
// len(v) multiples of 8, c ≥ 3), block run by block run, with the chunk of
// vec (m = mm + 1 floats) each block reads: the AVX2 kernel on multiples
// of eight groups, the generic one on the rest.
func (s *blockState) groups(simd bool, v, vec []float32, mm, i0 uint32, avx2, generic groupKernel) {
	_ = vec[mm]
	tab, pats := gaussTable2(), lanePerms()
	bs := 1 << uint(s.c)
	for at := 0; at < len(v); {
		i := i0 + uint32(at)
		b, lo := i>>uint(s.c), i&uint32(bs-1)
		n := min(len(v)-at, bs-int(lo))
		key, kg := s.keys(b)
		base := s.beta.perm(b) << uint(s.c) & mm
		run, chunk, g0 := v[at:at+n], vec[base:base+uint32(bs)], lo>>3
		k := 0
		if simd {
			k = n &^ 63
			if k > 0 {
				avx2(run[:k], chunk, tab, pats, &s.q, g0, key, kg)
			}
		}
		generic(run[k:], chunk, tab, pats, &s.q, g0+uint32(k>>3), key, kg)
		at += n
	}
}

// gather sets dst[j] = u[Π(i0+j) mod m]·G(i0+j) for j < len(dst); len(u)
// must be m = mm + 1. i0 and len(dst) are multiples of 8 unless L < 8.
func (s *blockState) gather(simd bool, dst, u []float32, mm, i0 uint32) {
	if s.c < 3 {
		for j := range dst {
			dst[j] = u[i0+uint32(j)] * s.gauss(i0+uint32(j))
		}
		return
	}
	s.groups(simd, dst, u, mm, i0, ffGatherGroupsAVX2, ffGatherGroupsGeneric)
}

// scatter adds buf[j]·G(i0+j) to acc[Π(i0+j) mod m] for j < len(buf), in
// order of j; len(acc) must be m = mm + 1. i0 and len(buf) are multiples
// of 8 unless L < 8.
func (s *blockState) scatter(simd bool, acc, buf []float32, mm, i0 uint32) {
	if s.c < 3 {
		for j, v := range buf {
			acc[i0+uint32(j)] += float32(v * s.gauss(i0+uint32(j)))
		}
		return
	}
	s.groups(simd, buf, acc, mm, i0, ffScatterGroupsAVX2, ffScatterGroupsGeneric)
}

// sumG2 returns ΣG² over [0, l): per group the squares of its eight table
// entries (the lane permutation does not change their sum), summed in
// float64 in order of the elements.
func (s *blockState) sumG2(l int) float64 {
	var sum float64
	if s.c < 3 {
		for i := range l {
			g := float64(s.gauss(uint32(i)))
			sum += g * g
		}
		return sum
	}
	var sq [512]float64
	for t := range sq {
		for _, v := range gaussTable2()[8*t : 8*t+8] {
			sq[t] += float64(v) * float64(v)
		}
	}
	groups := 1 << uint(s.c-3)
	for b := range l >> uint(s.c) {
		_, kg := s.keys(uint32(b))
		for g := range groups {
			sum += sq[s.q.tauG(uint32(g), kg)]
		}
	}
	return sum
}
