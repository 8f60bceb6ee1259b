//go:build amd64 && !purego

package cpu

import "github.com/klauspost/cpuid/v2"

// hasAVX2FMA reports whether this CPU runs the AVX2+FMA assembly kernels.
// It is decided once, at init, from cpuid.
var hasAVX2FMA = cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3)

// hasAVX512 reports whether this CPU (and its OS) run the AVX-512
// foundation instructions of the wide SGEMM micro-kernel
// (sgemmKernel12x32AVX512); decided once, at init, from cpuid.
var hasAVX512 = hasAVX2FMA && cpuid.CPU.Supports(cpuid.AVX512F)
