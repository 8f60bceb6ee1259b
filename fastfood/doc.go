// Package fastfood implements the Fastfood random projection (Le, Sarlós &
// Smola 2013) as the official Compacter code uses it for Intrinsic-SAID
// (Aghajanyan, Zettlemoyer & Gupta 2021; projections/intrinsic.py), and
// Intrinsic-SAID itself.
//
// # The projection
//
// P: R^d → R^D maps x to
//
//	P x = (H G Π H B pad(x))[:D] / (divisor·√(D/L))
//
// with L = 2^⌈log₂D⌉, pad(x) the first L entries of x zero-padded to L (it
// truncates when d > L), B a diagonal of random signs, H the unnormalised
// Walsh–Hadamard transform in natural (Sylvester) order, Π a permutation
// ((Π v)[i] = v[Π(i)]), G a diagonal of N(0,1) draws and divisor =
// √(L·ΣG²). Projection.Adjoint computes the true adjoint Pᵀ, so the
// gradients of SAID are exact. The official code's FastWalshHadamard
// autograd function multiplies its backward by 1/√L, which is not the
// derivative of its own (unnormalised) forward: its θ_d gradient is the
// true one scaled by 1/L per projected tensor. This package does not copy
// that.
//
// # Cost
//
// Only the first m = 2^⌈log₂ min(d, L)⌉ entries of pad(x)·B are non-zero,
// and the Sylvester matrix is H_L = H_{L/m} ⊗ H_m, so H pad(x)·B is the
// m-point transform of those entries repeated L/m times. The forward
// therefore transforms a small vector, gathers from it through Π and G into
// the L-element buffer and runs one full transform; the adjoint runs one
// full transform, scatters through Π and G into an m-element accumulator
// (the sum of the L/m blocks, which is what the first m outputs of H need)
// and transforms that. Forward and adjoint each cost one L-point FWHT plus
// the per-element work, streamed through it (cpu.FWHTFused): the gather
// fills each 16 KiB block of the transform as it starts, and the scaled
// add into the weights (forward) or the scatter (adjoint) takes the
// blocks from its last pass, so the L-element buffer crosses memory only
// inside the transform. The per-element work — the Π and G hashes and two
// random reads (u and the 256 KiB quantile table) per element — costs
// about as much as two to three FWHT passes on the Zen 3 VM, and is what
// keeps a forward + adjoint above the 3× two FWHT passes
// (bench/RESULTS.md).
//
// # Random state
//
// A seeded projection (New) keeps no per-element state: B, Π and G are
// functions of the seed and the index, evaluated where they are used.
// B(i) is a bit of SplitMix64(key+i/64). G(i) is the standard normal
// quantile at a 16-bit uniform, the top bits of the MurmurHash3 32-bit
// finaliser of i+key (a discrete N(0,1) with 65536 equiprobable atoms,
// |G| ≤ 4.17). Π is a keyed bijection of [0, L): an affine map, xorshift,
// odd multiplication and xorshift modulo L — not a uniformly drawn
// permutation, but one that the AVX2 kernels evaluate eight lanes at a time
// (index_amd64.s; pure-Go twins in index_generic.go give the same bits).
// A trained θ_d with its seed and the λ_i reproduces the same weights bit
// for bit with the same build, whatever the thread count.
// State imported from the reference (FromState) is kept explicitly: B as
// bits, Π as int32, G as float32 — 8⅛ bytes per element instead of the
// reference's 20.
//
// # Intrinsic-SAID
//
// SAID holds θ_d and one scalar λ_i per parameter tensor and sets
// θ_i = θ0_i + λ_i·P_i(θ_d), with an independent projection P_i per tensor
// (the reference's layout), or θ = θ0 + P(θ_d) with one projection over the
// concatenation of all tensors (Global, the DID variant).
package fastfood
