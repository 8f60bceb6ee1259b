//go:build !unix

package cpu

// kronCPUTime is unavailable here; benchmarks then report 0.
func kronCPUTime() float64 { return 0 }
