package kernels

import (
	"fmt"
	"math"
	"math/bits"
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
// Fastfood projection (fastfood.Projection.Seed returns them). With
// mask = 2^LogL − 1 and all arithmetic on uint32 modulo 2^32 (uint64 for
// the sign words):
//
//	B[i] = −1  ⇔  bit i mod 64 of Mix64(SignKey + ⌊i/64⌋) is set
//	Π(i):      x = (A0·i + K0) & mask; x ^= x >> Shift;
//	           x = (A1·x) & mask;      Π(i) = x ^ x >> Shift
//	G(i):      h = i + KG; h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13;
//	           h *= 0xc2b2ae35; G(i) = Gauss[h >> 16]
//
// where Gauss is the 65536-entry float32 quantile table of package fastfood
// (fastfood.GaussTable), which the caller uploads once (FastfoodParams.Gauss).
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
	mask := uint32(1)<<uint(s.LogL) - 1
	x := (uint32(i)*s.A0 + s.K0) & mask
	x ^= x >> s.Shift
	x = (x * s.A1) & mask
	return int(x ^ x>>s.Shift)
}

// GaussIndex returns the index into the quantile table of G(i).
func (s FastfoodSeed) GaussIndex(i int) int {
	h := uint32(i) + s.KG
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return int(h >> 16)
}

// FastfoodGaussLen is the length of the quantile table G draws from.
const FastfoodGaussLen = 1 << 16

// fastfoodMaxLog is log2 of the longest padded length L.
const fastfoodMaxLog = 30

// Validate checks that s describes a projection: 1 ≤ d, 1 ≤ D ≤ 2^30,
// LogL and LogM as d and D define them, odd multipliers, a shift in
// [1, 31] and a positive finite scale.
func (s FastfoodSeed) Validate() error {
	const op = "fastfood"
	if s.InDim < 1 || s.OutDim < 1 || s.OutDim > 1<<fastfoodMaxLog {
		return shapeErr(op, "input dimension %d, output dimension %d (each in [1, 2^%d])", s.InDim, s.OutDim, fastfoodMaxLog)
	}
	logL := bits.Len(uint(s.OutDim - 1))
	logM := bits.Len(uint(min(s.InDim, 1<<logL) - 1))
	if s.LogL != logL || s.LogM != logM {
		return shapeErr(op, "logL=%d logM=%d for d=%d, D=%d, want %d and %d", s.LogL, s.LogM, s.InDim, s.OutDim, logL, logM)
	}
	if s.A0&1 == 0 || s.A1&1 == 0 || s.Shift < 1 || s.Shift > 31 {
		return fmt.Errorf("%s: permutation constants a0=%#x a1=%#x shift=%d (odd multipliers, shift in [1, 31]): %w", op, s.A0, s.A1, s.Shift, ErrShape)
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
	// Gauss holds the 65536-entry quantile table (fastfood.GaussTable).
	Gauss Buffer
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
	if err := CheckExact(op, "gauss", p.Gauss, Float32, FastfoodGaussLen); err != nil {
		return err
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
