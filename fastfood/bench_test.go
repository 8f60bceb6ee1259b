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
// projection per tensor, ΣD ≈ 2.2e8) with each random-state version: Apply
// (the forward into every weight, in place), Backward (the adjoint from
// every weight's gradient) and both, next to the baseline of two FWHT
// passes over the same padded lengths. It needs about 1.2 GB. Metrics:
// GB/s of the ΣL padded elements (4 bytes read and written per pass),
// state-B/elem = bytes of random state per projected element;
// apply+backward also reports the model's scratch (scratch-MiB: L + m
// floats of the largest tensor) and the allocations per op (B/op: small
// per-call buffers; the adjoint's accumulators are pooled), next to the
// weights and gradients of ΣD floats each that the caller holds. The
// figure of the bar is apply+backward over fwht-x2; to rerun it
// (each iteration takes seconds, so -benchtime 3x):
//
//	go test -run '^$' -bench 'BenchmarkSAIDT5Base' -benchtime 3x -count 5 -cpu 1 ./fastfood | tee /tmp/said.txt
//	go run golang.org/x/perf/cmd/benchstat@latest /tmp/said.txt
func BenchmarkSAIDT5Base(b *testing.B) {
	ts := t5BaseTensors()
	models := map[StateVersion]*SAID{}
	for _, v := range []StateVersion{StateV1, StateV2} {
		start := time.Now()
		s, err := NewSAID(Config{Dim: 20000, Tensors: ts, Seed: 1, State: v})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("NewSAID %v (draws every G once for the divisors): %v", v, time.Since(start))
		rng := rand.New(rand.NewPCG(1, 1))
		s.Theta = randVec(rng, len(s.Theta))
		models[v] = s
	}
	s := models[StateV2]
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
	report := func(b *testing.B, s *SAID, passes int) {
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
		report(b, s, 2)
	})
	for _, v := range []StateVersion{StateV1, StateV2} {
		s := models[v]
		b.Run(fmt.Sprintf("state=%v/apply", v), func(b *testing.B) {
			for b.Loop() {
				if err := s.Apply(w, w); err != nil {
					b.Fatal(err)
				}
			}
			report(b, s, 1)
		})
		b.Run(fmt.Sprintf("state=%v/backward", v), func(b *testing.B) {
			for b.Loop() {
				if err := s.Backward(w, dTheta, dLambda); err != nil {
					b.Fatal(err)
				}
			}
			report(b, s, 1)
		})
		b.Run(fmt.Sprintf("state=%v/apply+backward", v), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Apply(w, w); err != nil {
					b.Fatal(err)
				}
				if err := s.Backward(w, dTheta, dLambda); err != nil {
					b.Fatal(err)
				}
			}
			report(b, s, 2)
			b.ReportMetric(float64(4*len(s.buffer()))/(1<<20), "scratch-MiB")
		})
		b.Run(fmt.Sprintf("state=%v/interleaved", v), func(b *testing.B) {
			benchInterleaved(b, s, w)
		})
	}
}

// benchInterleaved times, tensor by tensor, the forward (ForwardAdd into
// the weights) and adjoint of each projection of s next to two FWHT passes
// over its padded length, and reports their ratio (x_fwht2, the issue's
// bar) from the same stretch of time: on a machine whose speed drifts by
// phases the two sides see the same phases.
func benchInterleaved(b *testing.B, s *SAID, w [][]float32) {
	buf := s.buffer()
	a := make([]float32, len(s.Theta))
	var tp, tf time.Duration
	for b.Loop() {
		for i, p := range s.proj {
			t0 := time.Now()
			if err := p.ForwardAdd(w[i], s.Lambda[i], s.Theta, buf); err != nil {
				b.Fatal(err)
			}
			if err := p.Adjoint(a, w[i], buf); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			for range 2 {
				if err := cpu.FWHTFloat32(buf[:p.L()], p.logL, 1, p.Threads, false); err != nil {
					b.Fatal(err)
				}
			}
			tp, tf = tp+t1.Sub(t0), tf+time.Since(t1)
		}
	}
	b.ReportMetric(float64(tp)/float64(tf), "x_fwht2")
}

// BenchmarkProjection runs one seeded projection from d = 20000 to
// D = 768·3072 (a T5-base FFN matrix, L = 2^22) with each random-state
// version: forward, adjoint, the same unfused (as before the per-element
// passes were streamed through the transform), and two FWHT passes of L
// for comparison:
//
//	go test -run '^$' -bench 'BenchmarkProjection' -count 5 -cpu 1,2 ./fastfood
func BenchmarkProjection(b *testing.B) {
	const d, dim = 20000, 768 * 3072
	rng := rand.New(rand.NewPCG(2, 2))
	x, y, dx := randVec(rng, d), randVec(rng, dim), make([]float32, d)
	out := make([]float32, dim)
	for _, v := range []StateVersion{StateV1, StateV2} {
		p, err := NewVersion(d, dim, 1, v)
		if err != nil {
			b.Fatal(err)
		}
		s := make([]float32, p.ScratchLen())
		l := float64(p.L())
		run := func(name string, passes float64, fn func()) {
			b.Run(fmt.Sprintf("state=%v/%s", v, name), func(b *testing.B) {
				for b.Loop() {
					fn()
				}
				b.ReportMetric(passes*8*l*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
		if v == StateV1 {
			run("fwht-x2", 2, func() {
				_ = cpu.FWHTFloat32(s[:p.L()], p.logL, 1, 0, false)
				_ = cpu.FWHTFloat32(s[:p.L()], p.logL, 1, 0, false)
			})
		}
		run("forward", 1, func() { _ = p.Forward(out, x, s) })
		run("adjoint", 1, func() { _ = p.Adjoint(dx, y, s) })
		b.Run(fmt.Sprintf("state=%v/interleaved", v), func(b *testing.B) {
			var tp, tf time.Duration
			for b.Loop() {
				t0 := time.Now()
				_ = p.ForwardAdd(out, 1, x, s)
				_ = p.Adjoint(dx, y, s)
				t1 := time.Now()
				_ = cpu.FWHTFloat32(s[:p.L()], p.logL, 1, p.Threads, false)
				_ = cpu.FWHTFloat32(s[:p.L()], p.logL, 1, p.Threads, false)
				tp, tf = tp+t1.Sub(t0), tf+time.Since(t1)
			}
			b.ReportMetric(float64(tp)/float64(tf), "x_fwht2")
		})
		run("forward-unfused", 1, func() { p.forwardAddUnfused(out, 1, x, s) })
		run("adjoint-unfused", 1, func() { p.adjointUnfused(dx, y, s) })
	}
}

// forwardAddUnfused is ForwardAdd as it ran before the transform streamed
// its input and output (2026-11-27): the gather, the transform and the
// scaled add each one pass over memory. For the side-by-side benchmarks.
func (p *Projection) forwardAddUnfused(dst []float32, alpha float32, x, s []float32) {
	l, m := p.L(), 1<<p.logM
	buf, u := s[:l], s[l:l+m]
	k := min(p.d, l)
	for i := range k {
		u[i] = x[i]
		if p.signBit(i) != 0 {
			u[i] = -x[i]
		}
	}
	clear(u[k:])
	_ = cpu.FWHTFloat32(u, p.logM, 1, 1, false)
	forChunks(p.Threads, (l+1<<chunkLog-1)>>chunkLog, func(c int) {
		lo, hi := c<<chunkLog, min(l, (c+1)<<chunkLog)
		p.gatherSeeded(buf[lo:hi], u, lo)
	})
	_ = cpu.FWHTFloat32(buf, p.logL, 1, p.Threads, false)
	c := float32(p.Scale())
	forChunks(p.Threads, (len(dst)+1<<chunkLog-1)>>chunkLog, func(k int) {
		lo, hi := k<<chunkLog, min(len(dst), (k+1)<<chunkLog)
		addScaled(dst[lo:hi], alpha, c, buf[lo:hi])
	})
}

// adjointUnfused is Adjoint as it ran before the transform streamed its
// input and output: scale and pad, transform, scatter, each one pass.
func (p *Projection) adjointUnfused(dst, y, s []float32) {
	l, m := p.L(), 1<<p.logM
	buf, u := s[:l], s[l:l+m]
	setScaled(buf[:len(y)], float32(p.Scale()), y)
	clear(buf[len(y):l])
	_ = cpu.FWHTFloat32(buf, p.logL, 1, p.Threads, false)
	ng := accGroups(l)
	acc := make([]float32, ng*m)
	per := l / ng
	forChunks(p.Threads, ng, func(gi int) {
		p.scatterSeeded(acc[gi*m:(gi+1)*m], buf[gi*per:(gi+1)*per], gi*per)
	})
	for j := range u {
		v := acc[j]
		for gi := 1; gi < ng; gi++ {
			v += acc[gi*m+j]
		}
		u[j] = v
	}
	_ = cpu.FWHTFloat32(u, p.logM, 1, 1, false)
	for i := range min(p.d, l) {
		dst[i] = u[i]
		if p.signBit(i) != 0 {
			dst[i] = -u[i]
		}
	}
}
