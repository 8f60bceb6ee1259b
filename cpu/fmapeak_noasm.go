//go:build !amd64 || purego

package cpu

// fmaPeakAVX512 runs the pure-Go twin where no assembly is built.
func fmaPeakAVX512(n int) float32 { return fmaPeakGeneric(n) }

// fmaPeakAVX2 runs the pure-Go twin where no assembly is built.
func fmaPeakAVX2(n int) float32 { return fmaPeakGeneric(n) }
