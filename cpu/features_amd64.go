//go:build amd64 && !purego

package cpu

import "github.com/klauspost/cpuid/v2"

// hasAVX2FMA reports whether this CPU runs the AVX2+FMA assembly kernels.
// It is decided once, at init, from cpuid.
var hasAVX2FMA = cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3)
