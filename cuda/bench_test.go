//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/compacter-go/compacter/kernels"
)

// timeOps runs op n times between two Syncs and returns the elapsed time.
func timeOps(tb testing.TB, bk *Backend, n int, op func() error) time.Duration {
	tb.Helper()
	if err := bk.Sync(); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	for range n {
		if err := op(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := bk.Sync(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkPHM times the fused PHM and LPHM layers at the adapter shapes of
// T5-base (768→24 and 24→768), forward and forward+backward, and after the
// timed loop the same number of materialised (KronSum + cuBLAS) passes.
// Metrics: GFLOP/s of both (the dense layer's 2·rows·In·Out per pass, three
// times that with the backward, so the two rates compare directly) and
// speedup = materialised time / fused time. ns/op is the fused time.
//
//	go test -run '^$' -bench PHM -benchtime 20x ./cuda
func BenchmarkPHM(b *testing.B) {
	bk := gpuBackend(b)
	for _, sh := range [][2]int{{768, 24}, {24, 768}} {
		for _, n := range []int{2, 4, 8, 12} {
			for _, rank := range []int{1, 0} {
				for _, rows := range []int{1024, 8192, 65536} {
					for _, pass := range []string{"fwd", "fwdbwd"} {
						c := phmCase{sh[0], sh[1], n, rank}
						name := fmt.Sprintf("%dx%d/n=%d/rank=%d/rows=%d/%s", c.in, c.out, n, rank, rows, pass)
						b.Run(name, func(b *testing.B) { benchPHM(b, bk, c, rows, pass == "fwdbwd") })
					}
				}
			}
		}
	}
}

func benchPHM(b *testing.B, bk *Backend, c phmCase, rows int, backward bool) {
	rng := rand.New(rand.NewPCG(11, 12))
	w := newWeights(rng, c)
	g := initGrads(rng, c)
	up := func(v []float32) kernels.Buffer {
		if v == nil {
			return nil
		}
		return upload(b, bk, v)
	}
	p := kernels.PHMParams{Rows: rows, In: c.in, Out: c.out, N: c.n, Rank: c.rank,
		X: up(randn(rng, rows*c.in, 1)), Y: up(make([]float32, rows*c.out)),
		A: up(w.a), W: up(w.w), S: up(w.s), T: up(w.t), Bias: up(w.bias)}
	if backward {
		p.DY, p.DX = up(randn(rng, rows*c.out, 1)), up(make([]float32, rows*c.in))
		p.DA, p.DW, p.DS, p.DT, p.DBias = up(g.da), up(g.dw), up(g.ds), up(g.dt), up(g.dbias)
	}
	run := func(algo kernels.PHMAlgo) func() error {
		q := p
		q.Algo = algo
		return func() error {
			if err := bk.PHM(q); err != nil || !backward {
				return err
			}
			return bk.PHMBackward(q)
		}
	}
	fused, mat := run(kernels.PHMFused), run(kernels.PHMMaterialize)
	// Warm up both (module loads, allocator caches).
	timeOps(b, bk, 2, fused)
	timeOps(b, bk, 2, mat)
	b.ResetTimer()
	tf := timeOps(b, bk, b.N, fused)
	b.StopTimer()
	tm := timeOps(b, bk, b.N, mat)
	flops := 2 * float64(rows) * float64(c.in) * float64(c.out) * float64(b.N)
	if backward {
		flops *= 3
	}
	b.ReportMetric(flops/tf.Seconds()/1e9, "fused-GFLOP/s")
	b.ReportMetric(flops/tm.Seconds()/1e9, "mat-GFLOP/s")
	b.ReportMetric(tm.Seconds()/tf.Seconds(), "speedup")
}

// BenchmarkFWHT times the orthonormal FWHT of 64 MiB (batch·2^logN floats)
// in place, and after the timed loop a device-to-device copy (Backend.Copy)
// of the same bytes. Metrics: GB/s of both (bytes read + written) and
// x-copy = FWHT time / copy time (the goal is ≤ 1.3 up to 2^15). Sizes
// 2^13..2^16 run each one-kernel variant (old: warp shuffles, x: two
// shared-memory exchanges, xp: x staging the next vector); the others the
// default.
//
//	go test -run '^$' -bench FWHT -benchtime 50x ./cuda
func BenchmarkFWHT(b *testing.B) {
	bk := gpuBackend(b)
	const total = 16 << 20 // floats: 64 MiB
	for logN := 10; logN <= 24; logN++ {
		variants := []string{"default"}
		if logN >= 13 && logN <= 16 {
			variants = fwhtVariants
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("logN=%d/%s", logN, v), func(b *testing.B) {
				if v != "default" {
					withFWHTVariant(b, v)
				}
				batch := max(1, total>>logN)
				n := batch << logN
				rng := rand.New(rand.NewPCG(13, 14))
				x := upload(b, bk, randn(rng, n, 1))
				dst := upload(b, bk, make([]float32, n))
				fwht := func() error { return bk.FWHT(x, logN, batch, true) }
				cp := func() error { return bk.Copy(dst, x) }
				timeOps(b, bk, 2, fwht)
				timeOps(b, bk, 2, cp)
				b.ResetTimer()
				tf := timeOps(b, bk, b.N, fwht)
				b.StopTimer()
				tc := timeOps(b, bk, b.N, cp)
				bytes := 2 * 4 * float64(n) * float64(b.N)
				b.ReportMetric(bytes/tf.Seconds()/1e9, "fwht-GB/s")
				b.ReportMetric(bytes/tc.Seconds()/1e9, "copy-GB/s")
				b.ReportMetric(tf.Seconds()/tc.Seconds(), "x-copy")
				b.SetBytes(8 * int64(n))
			})
		}
	}
}
