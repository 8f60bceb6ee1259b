//go:build !purego

package cpu

// Walsh–Hadamard butterfly kernels (fwht_amd64.s).

// fwht64AVX2 applies levels 0..5 (spans 1..32) to every 64-element chunk of
// x; len(x) must be a multiple of 64.
//
//go:noescape
func fwht64AVX2(x []float32)

// fwhtR8AVX2 applies the levels of spans h, 2h, 4h to the eight rows
// x[j+k·h], k < 8, for j < w: len(x) ≥ 7h+w, w a multiple of 8.
//
//go:noescape
func fwhtR8AVX2(x []float32, h, w int)

// fwhtR4AVX2 applies the levels of spans h, 2h to the four rows x[j+k·h].
//
//go:noescape
func fwhtR4AVX2(x []float32, h, w int)

// fwhtR2AVX2 applies the level of span h to the rows x[j], x[j+h].
//
//go:noescape
func fwhtR2AVX2(x []float32, h, w int)

// fwhtR8ToAVX2 applies the levels of spans hs, 2hs, 4hs to the eight rows
// src[j+k·hs], k < 8, and writes them to dst[j+k·hd], for j < w: len(src)
// ≥ 7hs+w, len(dst) ≥ 7hd+w, w a multiple of 8. dst may be src with hd =
// hs (in place); otherwise the two must not overlap.
//
//go:noescape
func fwhtR8ToAVX2(dst, src []float32, hd, hs, w int)

// fwhtR4ToAVX2 is the radix-4 fwhtR8ToAVX2 (rows k < 4, spans hs, 2hs).
//
//go:noescape
func fwhtR4ToAVX2(dst, src []float32, hd, hs, w int)

// fwhtR2ToAVX2 is the radix-2 fwhtR8ToAVX2 (rows k < 2, span hs).
//
//go:noescape
func fwhtR2ToAVX2(dst, src []float32, hd, hs, w int)

// fwht64PfAVX2 is fwht64AVX2 that also prefetches the cache lines of pf,
// len(x) bytes of them at most (pf is not read otherwise).
//
//go:noescape
func fwht64PfAVX2(x, pf []float32)
