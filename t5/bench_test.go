package t5

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/compacter-go/compacter/kernels"
)

// benchBatch is a random batch of B sequences of S encoder and T decoder
// tokens (the last 10 % of each encoder row padded).
func benchBatch(cfg Config, B, S, T int) Batch {
	rng := rand.New(rand.NewPCG(3, 4))
	b := Batch{B: B, S: S, T: T, InputIDs: make([]int32, B*S), AttentionMask: make([]int32, B*S), Labels: make([]int32, B*T)}
	for i := range b.InputIDs {
		b.InputIDs[i] = int32(2 + rng.IntN(cfg.VocabSize-2))
		if i%S < S*9/10 {
			b.AttentionMask[i] = 1
		}
	}
	for i := range b.Labels {
		b.Labels[i] = int32(2 + rng.IntN(cfg.VocabSize-2))
	}
	return b
}

func benchModel(b *testing.B, preset string) (*Model, kernels.Backend) {
	cfg, err := Preset(preset)
	if err != nil {
		b.Fatal(err)
	}
	cfg.DropoutRate = 0
	be := openBackend(b, *benchBackend)
	m, err := New(cfg, be)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	if err := m.InitWeights(1); err != nil {
		b.Fatal(err)
	}
	return m, be
}

// benchB and benchS are the batch of the step benchmarks: B sequences of S
// encoder and S decoder tokens.
const benchB, benchS = 8, 128

// benchStepper returns a model of the preset on the benchmark backend and
// a function that runs one training step (or, without train, one forward
// of the frozen model) on a fixed random batch.
func benchStepper(b *testing.B, preset string, train bool) (*Model, kernels.Backend, func()) {
	m, be := benchModel(b, preset)
	if !train {
		if err := m.Freeze(func(string) bool { return true }, true); err != nil {
			b.Fatal(err)
		}
	}
	batch := benchBatch(m.Config, benchB, benchS, benchS)
	tr, err := NewTrainer(m, TrainConfig{LR: 1e-4, MaxGradNorm: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	return m, be, func() {
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
}

// Tokens per second count the B·S encoder tokens of a step (T = S).
func benchStep(b *testing.B, preset string, train bool) {
	m, be, step := benchStepper(b, preset, train)
	step()                     // warm-up: optimizer state, pools
	resident := be.Mem().InUse // weights, gradients, AdamW moments
	be.ResetPeak()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		step()
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*benchB*benchS)/el, "tok/s")
	b.ReportMetric(float64(be.Mem().Peak)/(1<<20), "peak-MiB")
	// Peak memory by class: weights, gradients and AdamW moments follow from
	// the parameter count; the rest of the peak is the pass's activations
	// and backward scratch.
	var w, g, mv int64
	for _, p := range m.Params {
		w += 4 * int64(p.Len())
		if p.G != nil {
			g += 4 * int64(p.Len())
		}
		if p.M != nil {
			mv += 8 * int64(p.Len())
		}
	}
	b.ReportMetric(float64(w)/(1<<20), "weights-MiB")
	b.ReportMetric(float64(g)/(1<<20), "grads-MiB")
	b.ReportMetric(float64(mv)/(1<<20), "adam-MiB")
	b.ReportMetric(float64(be.Mem().Peak-resident)/(1<<20), "activations-MiB")
}

func BenchmarkForwardT5Small(b *testing.B)   { benchStep(b, "t5-small", false) }
func BenchmarkTrainStepT5Small(b *testing.B) { benchStep(b, "t5-small", true) }
func BenchmarkForwardT5Base(b *testing.B)    { benchStep(b, "t5-base", false) }
func BenchmarkTrainStepT5Base(b *testing.B)  { benchStep(b, "t5-base", true) }
