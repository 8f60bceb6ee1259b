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
	const B, S = 8, 128
	m, be := benchModel(b, preset)
	if !train {
		if err := m.Freeze(func(string) bool { return true }, true); err != nil {
			b.Fatal(err)
		}
	}
	batch := benchBatch(m.Config, B, S, S)
	tr, err := NewTrainer(m, TrainConfig{LR: 1e-4, MaxGradNorm: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	step := func() {
		if train {
			if _, err := tr.Step([]Batch{batch}); err != nil {
				b.Fatal(err)
			}
			return
		}
		ps, err := m.Forward(batch, false)
		if err != nil {
			b.Fatal(err)
		}
		if err := ps.Release(); err != nil {
			b.Fatal(err)
		}
	}
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
	b.ReportMetric(float64(B*S)/med, "tok/s")
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
