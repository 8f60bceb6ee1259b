package kernels

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// FastfoodBackend is an optional interface of a Backend: the seeded Fastfood
// projection P: R^d → R^D of package fastfood (the map of Intrinsic-SAID)
// and its adjoint, evaluated on the device from the constants of the seeded
// state, so that neither the per-element random state nor the projected
// tensors leave the device. Callers test for it with a type assertion; a
// backend without it (the cpu backends) leaves the projection to the host
// code of package fastfood, which downloads θ_d and uploads every projected
// tensor. Imported (explicit) random state has no FastfoodSeed and always
// takes the host path.
//
// With h = H G Π H B pad(x), where pad zero-pads x to L = 2^LogL (keeping
// its first L entries when d > L), B = diag(±1), H the unnormalised
// Walsh–Hadamard matrix of order L, Π a permutation and G = diag(Gaussian),
// P x is Scale·h truncated to its first D entries. Only the first m = 2^LogM
// entries of B pad(x) can be non-zero, so H B pad(x) is the m-point
// transform repeated with period m: (H B pad(x))[Π(i)] is read at
// Π(i) mod m from an m-vector.
type FastfoodBackend interface {
	// Fastfood sets Out[i] = Base[i] + Alpha·(Scale·h[i]) for i < D, the two
	// products rounded separately (no fused multiply-add), as
	// fastfood.Projection.ForwardAdd does. See FastfoodParams.
	Fastfood(p FastfoodParams) error
	// FastfoodAdjoint accumulates Out[j] += Alpha·(Pᵀ X)[j] for j < d and,
	// when Dot is set, Dot[0] += ⟨Pᵀ X, DotWith⟩. See FastfoodParams.
	FastfoodAdjoint(p FastfoodParams) error
}

// FastfoodSeed holds the constants of the seeded random state of one
// Fastfood projection (fastfood.Projection.DeviceSeed returns them), in one
// of package fastfood's state versions. All arithmetic is on uint32 modulo
// 2^32 (uint64 for the sign words), with hperm(x; mask) the keyed bijection
//
//	hperm(x): x = (A0·x + K0) & mask; x ^= x >> Shift;
//	          x = (A1·x) & mask;      x ^ x >> Shift
//
// and Mix32 the MurmurHash3 finaliser (h ^= h>>16; h *= 0x85ebca6b;
// h ^= h>>13; h *= 0xc2b2ae35; h ^= h>>16). In both versions
//
//	B[i] = −1  ⇔  bit i mod 64 of Mix64(SignKey + ⌊i/64⌋) is set.
//
// Version 1 (0 counts as 1), mask = 2^LogL − 1:
//
//	Π(i) = hperm(i)
//	G(i) = Gauss[(Mix32(i + KG) without its last xorshift) >> 16]
//
// with Gauss the 65536-entry quantile table (fastfood.GaussTable(1)).
//
// Version 2, c = BlockLog, i = b·2^c + 8g + r (r < 8), mask = 2^(LogL−c) − 1,
// gmask = 2^(c−3) − 1, key = Mix32(b + KB), kg = Mix32(b + KG),
// h = Mix32(key + g):
//
//	τ(g):  y = (A2·g + key) & gmask; y ^= y >> Shift2; y = (A3·y) & gmask; y ^ y >> Shift2
//	τ'(g): z = (A4·g + kg) & 511;    z ^= z >> 5;      z = (A5·z) & 511;   z ^ z >> 5
//	Π(i) = hperm(b)·2^c + 8·τ(g) + Lanes[h >> 26][r]
//	G(i) = Gauss[8·τ'(g) + Lanes[(h >> 20) & 63][r]]
//
// with Gauss the 4096-entry table fastfood.GaussTable(2) and Lanes the
// first 64 rows of FastfoodLanePerms. When L < 8 (c < 3), Π(i) = i and
// G(i) takes b = g = 0 and r = i. The caller uploads the table (and for
// version 2 the lane permutations) once: FastfoodParams.Gauss and Lanes.
type FastfoodSeed struct {
	// InDim and OutDim are d and D.
	InDim, OutDim int
	// LogL is log2 of L = 2^⌈log₂D⌉; LogM is log2 of m, the power of two
	// at or above min(d, L).
	LogL, LogM int
	// SignKey keys the sign words of B.
	SignKey uint64
	// A0, K0, A1 (A0 and A1 odd) and Shift (≥ 1) define Π.
	A0, K0, A1, Shift uint32
	// KG keys the table index of G.
	KG uint32
	// Scale is the factor 1/(√(L·ΣG²)·√(D/L)), rounded to float32.
	Scale float32
	// Version is the state version: 1 (or 0) or 2.
	Version int
	// Version 2: BlockLog is c = min(LogM, 12), log2 of the Π block; KB
	// keys the block keys; A2, A3 (odd) and Shift2 (≥ 1) define τ, A4 and
	// A5 (odd) τ'.
	BlockLog                   int
	KB, A2, A3, Shift2, A4, A5 uint32
}

// v2 reports whether s is of version 2.
func (s FastfoodSeed) v2() bool { return s.Version == 2 }

// GaussLen returns the length of the quantile table of s's version:
// FastfoodGaussLen (version 1) or FastfoodGauss2Len (version 2).
func (s FastfoodSeed) GaussLen() int {
	if s.v2() {
		return FastfoodGauss2Len
	}
	return FastfoodGaussLen
}

// FastfoodGauss2Len is the length of version 2's quantile table.
const FastfoodGauss2Len = 1 << 12

// FastfoodLanesLen is the length of the lane-permutation table of version
// 2 (FastfoodLanePerms, flattened).
const FastfoodLanesLen = 128 * 8

// FastfoodLanePerms returns version 2's 64 permutations of eight lanes
// (rows 0..63; row p maps lane r to Lanes[p][r]) and their inverses (rows
// 64..127): Fisher–Yates shuffles driven by SplitMix64 (Mix64 of a counter
// from the key 0x66617374666f6f64). It must not be modified.
func FastfoodLanePerms() *[128][8]int32 { return lanePerms() }

var lanePerms = sync.OnceValue(func() *[128][8]int32 {
	var t [128][8]int32
	z := uint64(0x66617374666f6f64)
	for p := range 64 {
		perm := &t[p]
		for r := range perm {
			perm[r] = int32(r)
		}
		for r := 7; r > 0; r-- {
			z++
			j := int(Mix64(z) % uint64(r+1))
			perm[r], perm[j] = perm[j], perm[r]
		}
		for r, v := range perm {
			t[64+p][v] = int32(r)
		}
	}
	return &t
})

// hperm is the keyed bijection of Π (v1) and of the blocks (v2) on the bits
// of mask.
func (s FastfoodSeed) hperm(x, mask uint32) uint32 {
	x = (x*s.A0 + s.K0) & mask
	x ^= x >> s.Shift
	x = (x * s.A1) & mask
	return x ^ x>>s.Shift
}

// groups splits i of a version-2 seed into block, group and lane, and
// returns the block's keys and the group's hash; ok is false when L < 8.
func (s FastfoodSeed) groups(i int) (b, g, r, key, kg, h uint32, ok bool) {
	c := uint(s.BlockLog)
	if s.BlockLog < 3 {
		key, kg = Mix32(s.KB), Mix32(s.KG)
		return 0, 0, uint32(i), key, kg, Mix32(key), false
	}
	b, lo := uint32(i)>>c, uint32(i)&(1<<c-1)
	key, kg = Mix32(b+s.KB), Mix32(b+s.KG)
	g = lo >> 3
	return b, g, lo & 7, key, kg, Mix32(key + g), true
}

// L returns the padded length 2^LogL.
func (s FastfoodSeed) L() int { return 1 << s.LogL }

// M returns the span 2^LogM of the non-zero input entries.
func (s FastfoodSeed) M() int { return 1 << s.LogM }

// ScratchLen returns the floats of device scratch one projection uses:
// L + m.
func (s FastfoodSeed) ScratchLen() int { return s.L() + s.M() }

// Negative reports whether B[i] = −1.
func (s FastfoodSeed) Negative(i int) bool {
	return Mix64(s.SignKey+uint64(i>>6))>>(i&63)&1 == 1
}

// Perm returns Π(i) for i < L.
func (s FastfoodSeed) Perm(i int) int {
	if !s.v2() {
		return int(s.hperm(uint32(i), uint32(1)<<uint(s.LogL)-1))
	}
	b, g, r, key, _, h, ok := s.groups(i)
	if !ok {
		return i
	}
	c := uint(s.BlockLog)
	y := (g*s.A2 + key) & (1<<(c-3) - 1)
	y ^= y >> s.Shift2
	y = (y * s.A3) & (1<<(c-3) - 1)
	y ^= y >> s.Shift2
	return int(s.hperm(b, uint32(1)<<(uint(s.LogL)-c)-1)<<c | y<<3 | uint32(lanePerms()[h>>26][r]))
}

// GaussIndex returns the index into the quantile table of G(i).
func (s FastfoodSeed) GaussIndex(i int) int {
	if !s.v2() {
		h := uint32(i) + s.KG
		h ^= h >> 16
		h *= 0x85ebca6b
		h ^= h >> 13
		h *= 0xc2b2ae35
		return int(h >> 16)
	}
	_, g, r, _, kg, h, _ := s.groups(i)
	z := (g*s.A4 + kg) & 511
	z ^= z >> 5
	z = (z * s.A5) & 511
	z ^= z >> 5
	return int(z<<3 | uint32(lanePerms()[h>>20&63][r]))
}

// FastfoodGaussLen is the length of the quantile table G draws from.
const FastfoodGaussLen = 1 << 16

// fastfoodMaxLog is log2 of the longest padded length L.
const fastfoodMaxLog = 30

// Validate checks that s describes a projection: a known version,
// 1 ≤ d, 1 ≤ D ≤ 2^30, LogL, LogM (and BlockLog) as d and D define them
// (version 2 spans at least eight entries: LogM ≥ min(3, LogL)), odd
// multipliers, shifts in [1, 31] and a positive finite scale.
func (s FastfoodSeed) Validate() error {
	const op = "fastfood"
	if s.Version < 0 || s.Version > 2 {
		return shapeErr(op, "state version %d (known: 1, 2)", s.Version)
	}
	if s.InDim < 1 || s.OutDim < 1 || s.OutDim > 1<<fastfoodMaxLog {
		return shapeErr(op, "input dimension %d, output dimension %d (each in [1, 2^%d])", s.InDim, s.OutDim, fastfoodMaxLog)
	}
	logL := bits.Len(uint(s.OutDim - 1))
	logM := bits.Len(uint(min(s.InDim, 1<<logL) - 1))
	if s.v2() {
		logM = min(max(logM, 3), logL)
	}
	if s.LogL != logL || s.LogM != logM {
		return shapeErr(op, "logL=%d logM=%d for d=%d, D=%d, want %d and %d", s.LogL, s.LogM, s.InDim, s.OutDim, logL, logM)
	}
	if s.A0&1 == 0 || s.A1&1 == 0 || s.Shift < 1 || s.Shift > 31 {
		return fmt.Errorf("%s: permutation constants a0=%#x a1=%#x shift=%d (odd multipliers, shift in [1, 31]): %w", op, s.A0, s.A1, s.Shift, ErrShape)
	}
	if s.v2() && (s.BlockLog != min(logM, 12) || s.A2&s.A3&s.A4&s.A5&1 == 0 || s.Shift2 < 1 || s.Shift2 > 31) {
		return fmt.Errorf("%s: version 2 constants blockLog=%d a2=%#x a3=%#x a4=%#x a5=%#x shift2=%d (blockLog %d, odd multipliers, shift in [1, 31]): %w",
			op, s.BlockLog, s.A2, s.A3, s.A4, s.A5, s.Shift2, min(logM, 12), ErrShape)
	}
	if !(s.Scale > 0) || math.IsInf(float64(s.Scale), 0) {
		return fmt.Errorf("%s: scale %v is not a positive number: %w", op, s.Scale, ErrShape)
	}
	return nil
}

// FastfoodParams describes one call of FastfoodBackend.Fastfood (forward)
// or FastfoodAdjoint. X must not share storage with Out or Scratch.
//
// Forward: X holds x (d elements); Out (D elements) is set to
// Base + Alpha·(Scale·h) over its D entries; Base (D elements, optional:
// nil means 0) may be Out itself, which accumulates. Dot and DotWith must
// be nil.
//
// Adjoint: X holds y (D elements); Out (d elements) accumulates
// Alpha·Pᵀy, with Pᵀy = pad(·)ᵀ B H Πᵀ G H (Scale·pad(y)) (entries of Out
// beyond L get 0 added); when Dot (one element) is set, Dot[0] accumulates
// ⟨Pᵀy, DotWith⟩ with DotWith of d elements — SAID's gradient of λ,
// ⟨P(θ_d), y⟩ = ⟨θ_d, Pᵀy⟩. Base must be nil.
//
// The adjoint's scatter and the dot product may sum in any order (atomics):
// their results are not bitwise reproducible from run to run.
type FastfoodParams struct {
	// Seed is the projection.
	Seed FastfoodSeed
	// Gauss holds the quantile table of the seed's version
	// (fastfood.GaussTable; Seed.GaussLen floats).
	Gauss Buffer
	// Lanes holds version 2's lane permutations (FastfoodLanePerms,
	// FastfoodLanesLen int32); nil for version 1.
	Lanes Buffer
	// X is the input: x (forward) or y (adjoint).
	X Buffer
	// Out is the output (forward) or the accumulated gradient (adjoint).
	Out Buffer
	// Base is the forward's optional offset (θ0 of SAID); nil means 0.
	Base Buffer
	// Alpha is an optional one-element factor (λ of SAID) read on the
	// device; nil means 1.
	Alpha Buffer
	// Dot and DotWith are the adjoint's optional inner product: both nil,
	// or a one-element accumulator and a d-element vector.
	Dot, DotWith Buffer
	// Scratch is optional device working space of at least
	// Seed.ScratchLen() floats; nil lets the backend allocate it per call.
	Scratch Buffer
}

// Validate checks p for the forward (adjoint false) or the adjoint.
func (p FastfoodParams) Validate(adjoint bool) error {
	op := "fastfood"
	if adjoint {
		op = "fastfood adjoint"
	}
	s := p.Seed
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	in, out := s.InDim, s.OutDim
	if adjoint {
		in, out = out, in
	}
	if err := CheckExact(op, "gauss", p.Gauss, Float32, s.GaussLen()); err != nil {
		return err
	}
	if s.v2() {
		if err := CheckExact(op, "lanes", p.Lanes, Int32, FastfoodLanesLen); err != nil {
			return err
		}
	} else if p.Lanes != nil {
		return shapeErr(op, "lanes are for version 2 only")
	}
	if err := CheckExact(op, "x", p.X, Float32, in); err != nil {
		return err
	}
	if err := CheckExact(op, "out", p.Out, Float32, out); err != nil {
		return err
	}
	if err := checkOpt(op, "alpha", p.Alpha, 1); err != nil {
		return err
	}
	if p.Scratch != nil {
		if err := CheckBuf(op, "scratch", p.Scratch, Float32, s.ScratchLen()); err != nil {
			return err
		}
	}
	if !adjoint {
		if p.Dot != nil || p.DotWith != nil {
			return shapeErr(op, "dot and dotWith are adjoint-only")
		}
		return checkOpt(op, "base", p.Base, out)
	}
	if p.Base != nil {
		return shapeErr(op, "base is forward-only")
	}
	if (p.Dot == nil) != (p.DotWith == nil) {
		return shapeErr(op, "dot and dotWith must both be set or both be nil")
	}
	if err := checkOpt(op, "dot", p.Dot, 1); err != nil {
		return err
	}
	return checkOpt(op, "dotWith", p.DotWith, s.InDim)
}
