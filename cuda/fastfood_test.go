//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/compacter-go/compacter/fastfood"
	"github.com/compacter-go/compacter/kernels"
)

// ffCase is a seeded projection on the host (the reference) and its seed.
type ffCase struct {
	p    *fastfood.Projection
	seed kernels.FastfoodSeed
}

func newFFCase(tb testing.TB, d, dim int, seed uint64, v fastfood.StateVersion) ffCase {
	tb.Helper()
	p, err := fastfood.NewVersion(d, dim, seed, v)
	if err != nil {
		tb.Fatal(err)
	}
	s, ok := p.DeviceSeed()
	if !ok {
		tb.Fatal("seeded projection without a device seed")
	}
	return ffCase{p, s}
}

// ffTables uploads the quantile table of version v and, for StateV2, the
// lane permutations (nil for StateV1).
func ffTables(tb testing.TB, b *Backend, v fastfood.StateVersion) (gauss, lanes kernels.Buffer) {
	tb.Helper()
	gauss = upload(tb, b, fastfood.GaussTable(v))
	if v != fastfood.StateV2 {
		return gauss, nil
	}
	lt := fastfood.LaneTable()
	lanes, err := b.Alloc(kernels.Int32, len(lt))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Free(lanes) })
	if err := b.UploadInt32(lanes, lt); err != nil {
		tb.Fatal(err)
	}
	return gauss, lanes
}

// ffVersions are the state versions the device tests cover.
var ffVersions = []fastfood.StateVersion{fastfood.StateV1, fastfood.StateV2}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// ffTol is the relative error allowed after two transforms of 2^logL
// points (as TestFWHTLarge allows for one).
func ffTol(logL int) float64 { return 1e-5 * math.Max(1, math.Sqrt(float64(logL))/2) }

// TestFastfoodDevice checks the device projection and its adjoint against
// fastfood.Projection on the host: D not a power of two, d > L (input
// truncated), m from 1 to 2^16, both scatter kernels, with and without
// base, alpha, dot and caller scratch.
func TestFastfoodDevice(t *testing.T) {
	for _, v := range ffVersions {
		testFastfoodDevice(t, v)
	}
}

func testFastfoodDevice(t *testing.T, v fastfood.StateVersion) {
	b := gpuBackend(t)
	gauss, lanes := ffTables(t, b, v)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][2]int{{1, 1}, {5, 1}, {7, 3}, {3, 1000}, {100, 1000}, {3000, 1000}, {1024, 1024}, {152, 32},
		{100, 1 << 16}, {5, 100003}, {8192, 3 << 17}, {33000, 70000}, {20000, 589824}}
	if !testing.Short() {
		sizes = append(sizes, [2]int{20000, 2359296})
	}
	for ci, sz := range sizes {
		c := newFFCase(t, sz[0], sz[1], uint64(100+ci), v)
		d, dim := sz[0], sz[1]
		t.Run(fmt.Sprintf("state=%v/d=%d/D=%d", v, d, dim), func(t *testing.T) {
			x, y := randVec(rng, d), randVec(rng, dim)
			base, out0 := randVec(rng, dim), randVec(rng, d)
			for i := range base { // entries of P x are about √(d/D)·N(0, 1)
				base[i] *= float32(math.Sqrt(float64(d) / float64(dim)))
			}
			const alpha = float32(0.75)
			// Forward, plain: Out = P x.
			want := make([]float32, dim)
			if err := c.p.Forward(want, x, nil); err != nil {
				t.Fatal(err)
			}
			dx, dout := upload(t, b, x), upload(t, b, make([]float32, dim))
			if err := b.Fastfood(kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: dx, Out: dout}); err != nil {
				t.Fatal(err)
			}
			px := download(t, b, dout)
			if e := relErr(px, want); e > ffTol(c.seed.LogL) {
				t.Errorf("forward: relative error %.3g", e)
			}
			// Forward into Out = Base (in place) with alpha and scratch.
			wantAdd := append([]float32(nil), base...)
			if err := c.p.ForwardAdd(wantAdd, alpha, x, nil); err != nil {
				t.Fatal(err)
			}
			dbase, dalpha := upload(t, b, base), upload(t, b, []float32{alpha})
			scratch := upload(t, b, make([]float32, c.seed.ScratchLen()+3))
			if err := b.Fastfood(kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: dx, Out: dbase, Base: dbase,
				Alpha: dalpha, Scratch: scratch}); err != nil {
				t.Fatal(err)
			}
			var delta, ref []float32 // compare the added term λ·P x
			got := download(t, b, dbase)
			for i := range got {
				delta, ref = append(delta, got[i]-base[i]), append(ref, wantAdd[i]-base[i])
			}
			if e := relErr(delta, ref); e > ffTol(c.seed.LogL) {
				t.Errorf("forward with base and alpha: relative error %.3g of the added term", e)
			}

			// Adjoint: Out += alpha·Pᵀy, Dot += ⟨Pᵀy, x⟩, with each scatter.
			a := make([]float32, d)
			if err := c.p.Adjoint(a, y, nil); err != nil {
				t.Fatal(err)
			}
			var wantDot, dotAbs float64
			wantOut := make([]float32, d)
			for i := range a {
				wantOut[i] = alpha * a[i]
				wantDot += float64(a[i]) * float64(x[i])
				dotAbs += math.Abs(float64(a[i]) * float64(x[i]))
			}
			dy := upload(t, b, y)
			for _, mode := range []int{1, 2} {
				ffForceScatter = mode
				dOut, dDot := upload(t, b, out0), upload(t, b, []float32{0.5})
				err := b.FastfoodAdjoint(kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: dy, Out: dOut,
					Alpha: dalpha, Dot: dDot, DotWith: dx})
				ffForceScatter = 0
				if err != nil {
					t.Fatal(err)
				}
				gotOut := download(t, b, dOut)
				for i := range gotOut {
					gotOut[i] -= out0[i]
				}
				if e := relErr(gotOut, wantOut); e > ffTol(c.seed.LogL) {
					t.Errorf("adjoint (scatter mode %d): relative error %.3g", mode, e)
				}
				gotDot := float64(download(t, b, dDot)[0]) - 0.5
				if e := math.Abs(gotDot-wantDot) / math.Max(dotAbs, 1e-6); e > 1e-5 {
					t.Errorf("adjoint (scatter mode %d): dot %v, want %v", mode, gotDot, wantDot)
				}
			}
			// The adjoint identity on the device: ⟨P x, y⟩ = ⟨x, Pᵀ y⟩.
			dA := upload(t, b, make([]float32, d))
			if err := b.FastfoodAdjoint(kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: dy, Out: dA}); err != nil {
				t.Fatal(err)
			}
			pty := download(t, b, dA)
			var lhs, rhs, nl, nr float64
			for i := range y {
				lhs += float64(px[i]) * float64(y[i])
				nl += math.Abs(float64(px[i]) * float64(y[i]))
			}
			for i := range x {
				rhs += float64(x[i]) * float64(pty[i])
				nr += math.Abs(float64(x[i]) * float64(pty[i]))
			}
			if e := math.Abs(lhs-rhs) / math.Max(nl, nr); e > 1e-5 {
				t.Errorf("⟨Px, y⟩ = %v, ⟨x, Pᵀy⟩ = %v (relative %.3g)", lhs, rhs, e)
			}
		})
	}
}

// TestFastfoodErrors checks that bad arguments are rejected before any
// work, with the shared checks.
func TestFastfoodErrors(t *testing.T) {
	b := gpuBackend(t)
	c := newFFCase(t, 10, 100, 1, fastfood.StateV1)
	gauss, lanes := ffTables(t, b, fastfood.StateV1)
	x, out := upload(t, b, make([]float32, 10)), upload(t, b, make([]float32, 100))
	if err := b.Fastfood(kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: out, Out: x}); err == nil {
		t.Error("forward with swapped lengths succeeded")
	}
	if err := b.FastfoodAdjoint(kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: x, Out: out}); err == nil {
		t.Error("adjoint with swapped lengths succeeded")
	}
	bad := c.seed
	bad.LogL++
	if err := b.Fastfood(kernels.FastfoodParams{Seed: bad, Gauss: gauss, Lanes: lanes, X: x, Out: out}); err == nil {
		t.Error("forward with an inconsistent seed succeeded")
	}
	c2 := newFFCase(t, 10, 100, 1, fastfood.StateV2)
	if err := b.Fastfood(kernels.FastfoodParams{Seed: c2.seed, Gauss: gauss, X: x, Out: out}); err == nil {
		t.Error("version 2 forward with version 1's table and no lanes succeeded")
	}
}

// BenchmarkFastfood times one forward + adjoint of the device projection
// at the tensor sizes of T5-base (d = 20000) against two FWHT passes over
// the same L elements. Metrics: GB/s = the 16·L bytes two transforms read
// and write, over the forward+adjoint time; x_fwht2 = forward+adjoint time
// / time of two FWHT(L) passes (issue 3's bar for the CPU is ≤ 3).
//
//	go test -run '^$' -bench Fastfood -benchtime 20x ./cuda
func BenchmarkFastfood(b *testing.B) {
	bk := gpuBackend(b)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, v := range ffVersions {
		gauss, lanes := ffTables(b, bk, v)
		for _, sz := range []struct {
			name string
			dim  int
		}{{"ln768", 768}, {"768x768", 768 * 768}, {"768x3072", 768 * 3072}, {"32128x768", 32128 * 768}} {
			b.Run(fmt.Sprintf("state=%v/%s", v, sz.name), func(b *testing.B) {
				c := newFFCase(b, 20000, sz.dim, 1, v)
				x, y := upload(b, bk, randVec(rng, 20000)), upload(b, bk, randVec(rng, sz.dim))
				out, dx := upload(b, bk, make([]float32, sz.dim)), upload(b, bk, make([]float32, 20000))
				alpha, dot := upload(b, bk, []float32{1}), upload(b, bk, []float32{0})
				scratch := upload(b, bk, make([]float32, c.seed.ScratchLen()))
				fwd := kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: x, Out: out, Base: out, Alpha: alpha, Scratch: scratch}
				adj := kernels.FastfoodParams{Seed: c.seed, Gauss: gauss, Lanes: lanes, X: y, Out: dx, Alpha: alpha, Dot: dot, DotWith: x, Scratch: scratch}
				step := func() error {
					if err := bk.Fastfood(fwd); err != nil {
						return err
					}
					return bk.FastfoodAdjoint(adj)
				}
				l := c.seed.L()
				v := scratch.Slice(0, l)
				two := func() error {
					if err := bk.FWHT(v, c.seed.LogL, 1, false); err != nil {
						return err
					}
					return bk.FWHT(v, c.seed.LogL, 1, false)
				}
				_ = timeOps(b, bk, 2, step) // warm-up: module loads
				_ = timeOps(b, bk, 2, two)
				b.ResetTimer()
				tf := timeOps(b, bk, b.N, step)
				b.StopTimer()
				tw := timeOps(b, bk, b.N, two)
				b.ReportMetric(16*float64(l)*float64(b.N)/tf.Seconds()/1e9, "GB/s")
				b.ReportMetric(float64(tf)/float64(max(tw, time.Nanosecond)), "x_fwht2")
			})
		}
	}
}
