//go:build unix

package cpu

import "syscall"

// kronCPUTime returns the user+system CPU seconds of the process, so
// that benchmarks on a shared machine can report work rather than wall
// time (with -cpu 1 the two agree on an idle machine).
func kronCPUTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
