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
// Only the first m = 2^⌈log₂ min(d, L)⌉ entries of pad(x)·B are non-zero
// (StateV2 takes m ≥ 8, a group),
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
// inside the transform.
//
// What the per-element work costs depends on the random state. With
// StateV1 every element reads a random place of the m-point transform
// (128 KiB at d = 20000) and of a 256 KiB quantile table: two L2 accesses
// and a scalar hash per element, as much as two to three FWHT passes on
// the Zen 3 VM. StateV2, the default, is built for locality: Π keeps
// blocks of 4096 elements inside one 16 KiB chunk of the m-point vector
// and works on groups of eight (a group permutation and a lane
// permutation), and G reads groups of eight from a 16 KiB table, so the
// AVX2 kernels move a group with one load and one VPERMPS from L1 and the
// scatter is a vector add; a forward + adjoint at T5-base size takes about
// twice the time of two FWHT passes over the same lengths (StateV1: 3.3 to
// 4.2 times; bench/RESULTS.md).
//
// # Random state
//
// A seeded projection (New, NewVersion) keeps no per-element state: B, Π
// and G are functions of the seed and the index, evaluated where they are
// used. B(i) is a bit of SplitMix64(key+i/64) in every version.
//
// StateV1: G(i) is the standard normal quantile at a 16-bit uniform, the
// top bits of the MurmurHash3 32-bit finaliser of i+key (a discrete N(0,1)
// with 65536 equiprobable atoms, |G| ≤ 4.33). Π is a keyed bijection of
// [0, L): an affine map, xorshift, odd multiplication and xorshift modulo
// L.
//
// StateV2: i = b·2^c + 8g + r with blocks of 2^c = min(m, 4096) elements.
// Π(i) = β(b)·2^c + 8τ_b(g) + π_u(r), with β a keyed bijection of the
// blocks (as StateV1's Π), τ_b a keyed bijection of the groups of block b
// and π_u one of 64 fixed lane permutations chosen per group by a hash.
// G(i) = T[8τ'_b(g) + π_g(r)], with T the 4096 quantiles of N(0,1) at
// (j+½)/4096 stored so that each group of eight holds one quantile of
// every octile (|G| ≤ 3.67), τ'_b a keyed bijection of the 512 table
// groups and π_g a second lane permutation. A block of 4096 elements thus
// draws every quantile exactly once. Neither Π nor G is uniformly random;
// they are what the kernels evaluate eight lanes at a time, and the
// statistics the projection needs hold (the columns of P are nearly
// orthonormal with Gaussian entries, TestProjectionStatistics) — the
// structured transforms of Yu et al. (2016), H D H D H D, get by with no
// permutation at all. The exact definition, shared with the device
// backends, is kernels.FastfoodSeed.
//
// A trained θ_d with its seed, λ_i and state version reproduces the same
// weights bit for bit with the same build, whatever the thread count;
// TestStatePinned holds every version's state to what it was when
// released. Savers record the version (peft's adapter_config.json does).
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
