//go:build linux

package t5

import (
	"slices"
	"syscall"
	"testing"
	"time"
)

// benchStepMedian is benchStep timed step by step, for the comparison with
// bench/pytorch/t5_step.py: after one warm-up step it reports the median
// seconds per step, tokens/s at the median (B·S encoder tokens per step),
// the backend's peak bytes of the timed steps (weights, gradients, AdamW
// moments and the pass's activations and scratch) and the process's peak
// RSS (ru_maxrss: Go heap including garbage not yet collected, binary,
// stacks; run one benchmark per process for it to mean one pass).
func benchStepMedian(b *testing.B, preset string, train bool) {
	_, be, step := benchStepper(b, preset, train)
	step() // warm-up: optimizer state
	be.ResetPeak()
	var times []float64
	for b.Loop() {
		t0 := time.Now()
		step()
		times = append(times, time.Since(t0).Seconds())
	}
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (med + times[len(times)/2-1]) / 2
	}
	b.ReportMetric(med, "s/step")
	b.ReportMetric(float64(benchB*benchS)/med, "tok/s")
	b.ReportMetric(float64(be.Mem().Peak)/(1<<20), "peak-MiB")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MiB") // KiB on Linux
	}
}

func BenchmarkStepMedianForwardT5Small(b *testing.B) { benchStepMedian(b, "t5-small", false) }
func BenchmarkStepMedianTrainT5Small(b *testing.B)   { benchStepMedian(b, "t5-small", true) }
func BenchmarkStepMedianForwardT5Base(b *testing.B)  { benchStepMedian(b, "t5-base", false) }
func BenchmarkStepMedianTrainT5Base(b *testing.B)    { benchStepMedian(b, "t5-base", true) }
