package fastfood

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/compacter-go/compacter/cpu"
)

// t5BaseTensors lists the parameter tensors of T5-base (vocabulary 32128,
// d_model 768, d_ff 3072, 12 heads, 12+12 blocks, tied embeddings) in
// named_parameters order: the tensors Intrinsic-SAID projects into.
func t5BaseTensors() []Tensor {
	const dm, dff, buckets, heads = 768, 3072, 32, 12
	ts := []Tensor{{"shared.weight", 32128 * dm}}
	for _, stack := range []string{"encoder", "decoder"} {
		for b := range 12 {
			pre := fmt.Sprintf("%s.block.%d.", stack, b)
			att := []string{"SelfAttention"}
			if stack == "decoder" {
				att = append(att, "EncDecAttention")
			}
			for l, a := range att {
				for _, w := range []string{"q", "k", "v", "o"} {
					ts = append(ts, Tensor{fmt.Sprintf("%slayer.%d.%s.%s.weight", pre, l, a, w), dm * dm})
				}
				if b == 0 && l == 0 {
					ts = append(ts, Tensor{pre + "layer.0.SelfAttention.relative_attention_bias.weight", buckets * heads})
				}
				ts = append(ts, Tensor{fmt.Sprintf("%slayer.%d.layer_norm.weight", pre, l), dm})
			}
			ff := len(att)
			ts = append(ts, Tensor{fmt.Sprintf("%slayer.%d.DenseReluDense.wi.weight", pre, ff), dff * dm},
				Tensor{fmt.Sprintf("%slayer.%d.DenseReluDense.wo.weight", pre, ff), dm * dff},
				Tensor{fmt.Sprintf("%slayer.%d.layer_norm.weight", pre, ff), dm})
		}
		ts = append(ts, Tensor{stack + ".final_layer_norm.weight", dm})
	}
	return ts
}

// BenchmarkSAIDT5Base runs Intrinsic-SAID at T5-base size (d = 20000, one
// projection per tensor, ΣD ≈ 2.2e8): Apply (the forward into every
// weight, in place), Backward (the adjoint from every weight's gradient)
// and both, next to the baseline of two FWHT passes over the same padded
// lengths. It needs about 1.1 GB. Metrics: GB/s of the ΣL padded
// elements (4 bytes read and written per pass), state-B/elem = bytes of
// random state per projected element.
func BenchmarkSAIDT5Base(b *testing.B) {
	ts := t5BaseTensors()
	start := time.Now()
	s, err := NewSAID(Config{Dim: 20000, Tensors: ts, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("NewSAID (draws every G once for the divisors): %v", time.Since(start))
	rng := rand.New(rand.NewPCG(1, 1))
	s.Theta = randVec(rng, len(s.Theta))
	w := make([][]float32, len(ts))
	sumD, sumL := 0, 0
	for i, t := range ts {
		w[i] = make([]float32, t.Size)
		for j := range w[i] {
			w[i][j] = 0.01 // touch the pages before timing
		}
		sumD += t.Size
		sumL += s.Projection(i).L()
	}
	b.Logf("%d tensors, ΣD = %d, ΣL = %d", len(ts), sumD, sumL)
	dTheta, dLambda := make([]float32, len(s.Theta)), make([]float32, len(s.Lambda))
	report := func(b *testing.B, passes int) {
		b.ReportMetric(float64(passes)*8*float64(sumL)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		b.ReportMetric(float64(s.StateBytes())/float64(sumD), "state-B/elem")
	}
	b.Run("fwht-x2", func(b *testing.B) {
		buf := s.buffer()
		for b.Loop() {
			for i := range ts {
				p := s.Projection(i)
				for range 2 {
					if err := cpu.FWHTFloat32(buf[:p.L()], p.logL, 1, 0, false); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		report(b, 2)
	})
	b.Run("apply", func(b *testing.B) {
		for b.Loop() {
			if err := s.Apply(w, w); err != nil {
				b.Fatal(err)
			}
		}
		report(b, 1)
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			if err := s.Backward(w, dTheta, dLambda); err != nil {
				b.Fatal(err)
			}
		}
		report(b, 1)
	})
	b.Run("apply+backward", func(b *testing.B) {
		for b.Loop() {
			if err := s.Apply(w, w); err != nil {
				b.Fatal(err)
			}
			if err := s.Backward(w, dTheta, dLambda); err != nil {
				b.Fatal(err)
			}
		}
		report(b, 2)
	})
}

// BenchmarkProjection runs one seeded projection from d = 20000 to
// D = 768·3072 (a T5-base FFN matrix, L = 2^22): forward, adjoint, and
// two FWHT passes of L for comparison.
func BenchmarkProjection(b *testing.B) {
	const d, dim = 20000, 768 * 3072
	p, err := New(d, dim, 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	x, y, dx := randVec(rng, d), randVec(rng, dim), make([]float32, d)
	out := make([]float32, dim)
	s := make([]float32, p.ScratchLen())
	l := float64(p.L())
	b.Run("fwht-x2", func(b *testing.B) {
		for b.Loop() {
			_ = cpu.FWHTFloat32(s[:p.L()], p.logL, 1, 0, false)
			_ = cpu.FWHTFloat32(s[:p.L()], p.logL, 1, 0, false)
		}
		b.ReportMetric(2*8*l*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			_ = p.Forward(out, x, s)
		}
		b.ReportMetric(8*l*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
	b.Run("adjoint", func(b *testing.B) {
		for b.Loop() {
			_ = p.Adjoint(dx, y, s)
		}
		b.ReportMetric(8*l*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
}
