//go:build linux && cgo && !nocuda

package cuda

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
)

// fwhtVariants are the values of fwhtVariant that select a kernel.
var fwhtVariants = []string{"old", "x", "xp"}

func init() {
	flag.Func("fwht.variant", "one-kernel FWHT of 2^13..2^15 for the whole test binary: old, x or xp (default: by device)", func(s string) error {
		for _, v := range fwhtVariants {
			if s == v {
				fwhtVariant = s
				return nil
			}
		}
		return fmt.Errorf("unknown FWHT variant %q (want one of %v)", s, fwhtVariants)
	})
}

// withFWHTVariant sets fwhtVariant to v for the rest of the test.
func withFWHTVariant(tb testing.TB, v string) {
	old := fwhtVariant
	fwhtVariant = v
	tb.Cleanup(func() { fwhtVariant = old })
}

// TestFWHTXPlan checks the exchange kernels' configurations on an H100-like
// and an A100-like device, and the fallbacks when shared memory is short.
func TestFWHTXPlan(t *testing.T) {
	h100 := &Backend{maxSharedOptin: 227 << 10, numSMs: 132, cc: 90}
	a100 := &Backend{maxSharedOptin: 163 << 10, numSMs: 108, cc: 80}
	small := &Backend{maxSharedOptin: 90 << 10, numSMs: 108, cc: 90}
	for _, tc := range []struct {
		b       *Backend
		variant string
		logN    int
		want    string
		perSM   int
	}{
		{h100, "", 12, "", 0}, // defaults
		{h100, "", 13, "fwht_x13", 0},
		{h100, "", 14, "fwht_x14", 0},
		{h100, "", 15, "fwht_xp15", 1},
		{h100, "", 16, "", 0},
		{a100, "", 15, "", 0},
		{a100, "", 13, "", 0},
		{small, "", 15, "", 0},
		{h100, "old", 15, "", 0},
		{h100, "x", 12, "", 0},
		{h100, "x", 13, "fwht_x13", 0},
		{h100, "x", 15, "fwht_x15", 0},
		{h100, "xp", 13, "fwht_xp13", 4},
		{h100, "xp", 14, "fwht_xp14", 2},
		{h100, "xp", 15, "fwht_xp15", 1},
		{small, "xp", 14, "fwht_x14", 0}, // 98 KiB staged does not fit, 66 KiB does
		{small, "xp", 15, "", 0},         // 132 KiB does not fit: fwht_e32 (after passes)
		{small, "xp", 16, "", 0},
	} {
		withFWHTVariant(t, tc.variant)
		xp, ok := tc.b.planFWHTX(tc.logN)
		if tc.want == "" {
			if ok {
				t.Errorf("%s logN=%d: %s, want the shuffle kernel", tc.variant, tc.logN, xp.name)
			}
			continue
		}
		n := 1 << tc.logN
		shared := (n + n/32) * 4
		if tc.perSM > 0 {
			shared += fwhtXStaged[tc.logN-13] * (n / 32) * 4
		}
		switch {
		case !ok || xp.name != tc.want:
			t.Errorf("%s logN=%d: %q (%v), want %s", tc.variant, tc.logN, xp.name, ok, tc.want)
		case xp.tb != n/32 || xp.shared != shared || xp.perSM != tc.perSM:
			t.Errorf("%s logN=%d: %+v, want tb=%d shared=%d perSM=%d", tc.variant, tc.logN, xp, n/32, shared, tc.perSM)
		case xp.shared > max(tc.b.maxSharedOptin, 48<<10):
			t.Errorf("%s logN=%d: %d bytes of shared memory exceed the device's", tc.variant, tc.logN, xp.shared)
		}
	}
}

// TestFWHTPlan checks the launch configurations of the one-kernel FWHT for
// every size it takes: whole warps, at most 1024 threads, E·TB = n and the
// warp bits fitting in a thread's registers (E ≥ TB/32).
func TestFWHTPlan(t *testing.T) {
	for logN := 0; logN <= fwhtMaxBase; logN++ {
		pl := planFWHT(logN)
		e, tb := 1<<pl.logE, pl.tb
		wb := logN - pl.logE - 5
		switch {
		case pl.logE < 0 || pl.logE > 5:
			t.Errorf("logN=%d: %d elements per thread (kernels exist for 1..32)", logN, e)
		case e*tb != 1<<logN:
			t.Errorf("logN=%d: E=%d × TB=%d ≠ n", logN, e, tb)
		case tb*pl.v > 1024 || (tb*pl.v)%32 != 0:
			t.Errorf("logN=%d: block %d×%d is not whole warps of at most 1024 threads", logN, tb, pl.v)
		case wb > 0 && e < 1<<wb:
			t.Errorf("logN=%d: %d warp bits do not fit in E=%d registers", logN, wb, e)
		case wb > 0 && pl.shared != pl.v<<logN*4, wb <= 0 && pl.shared != 0:
			t.Errorf("logN=%d: %d bytes of shared memory", logN, pl.shared)
		}
	}
	b := &Backend{maxSharedOptin: 227 << 10, numSMs: 132}
	if got := b.fwhtBase(); got != fwhtMaxBase {
		t.Errorf("fwhtBase with 227 KiB = %d, want %d", got, fwhtMaxBase)
	}
	b.maxSharedOptin = 0 // 48 KiB without opt-in: 2^13 floats
	if got := b.fwhtBase(); got != 13 {
		t.Errorf("fwhtBase with 48 KiB = %d, want 13", got)
	}
}

// emulateFWHT runs the index arithmetic of fwht.cu on the CPU: the strided
// passes for the levels above base, then fwhtSmem thread by thread
// (registers, warp shuffles, the shared-memory exchange), so that a mistake
// in the mapping shows without a GPU.
func emulateFWHT(x []float32, logN, batch, base int, scale float32) {
	for l0 := base; l0 < logN; {
		u := min(fwhtPassBits, logN-l0)
		groups := batch << (logN - u)
		for g := range groups {
			off := (g>>l0)<<(l0+u) + g&(1<<l0-1)
			v := make([]float32, 1<<u)
			for k := range v {
				v[k] = x[off+k<<l0]
			}
			emulateButterflies(v, len(v))
			for k := range v {
				x[off+k<<l0] = v[k]
			}
		}
		l0 += u
	}
	pl := planFWHT(base)
	n, e, tb := 1<<base, 1<<pl.logE, pl.tb
	logTB := base - pl.logE
	laneLevels, wb := min(logTB, 5), logTB-5
	pieces := batch << (logN - base)
	for vec := range pieces {
		vx := x[vec*n : (vec+1)*n]
		regs := make([][]float32, tb) // regs[t][k]
		for t := range regs {
			regs[t] = make([]float32, e)
			for k := range e {
				regs[t][k] = vx[k*tb+t]
			}
			emulateButterflies(regs[t], e)
		}
		for l := range laneLevels {
			m := 1 << l
			next := make([][]float32, tb)
			for t := range regs {
				next[t] = make([]float32, e)
				for k := range e {
					u := regs[t^m][k] // __shfl_xor_sync within the warp
					if t&m != 0 {
						next[t][k] = u - regs[t][k]
					} else {
						next[t][k] = regs[t][k] + u
					}
				}
			}
			regs = next
		}
		if wb > 0 {
			s := make([]float32, n)
			for t := range regs {
				for k := range e {
					s[k*tb+t] = regs[t][k]
				}
			}
			for t := range tb {
				first := (t>>5)*(e>>wb)*tb + t&31
				v := make([]float32, e)
				for idx := range e {
					v[idx] = s[first+32*idx]
				}
				emulateButterflies(v, 1<<wb)
				for idx := range e {
					vx[first+32*idx] = v[idx] * scale
				}
			}
		} else {
			for t := range regs {
				for k := range e {
					vx[k*tb+t] = regs[t][k] * scale
				}
			}
		}
	}
}

// emulateButterflies is butterflies<E>(v, limit) of fwht.cu.
func emulateButterflies(v []float32, limit int) {
	for h := 1; h < len(v); h <<= 1 {
		if h >= limit {
			continue
		}
		for k := range v {
			if k&h == 0 {
				a, b := v[k], v[k+h]
				v[k], v[k+h] = a+b, a-b
			}
		}
	}
}

// emulateFWHTX runs fwhtX<logN, p> of fwht.cu on the CPU for vectors of
// 2^logN elements: grid blocks, each looping over its vectors with all its
// threads in lock step between barriers, the shared memory laid out as in
// the kernel (exchange with one pad per 32 floats, then the per-thread
// staging slots filled for the block's next vector). It fails t when a warp's
// shared-memory access in any of the patterns has a bank conflict.
func emulateFWHTX(t *testing.T, x []float32, logN, batch, p, grid int, scale float32) {
	t.Helper()
	n, tb := 1<<logN, 1<<(logN-5)
	rowA, limit := tb+tb/32, 1<<(logN-10)
	// The kernel's shared indices: phase A (k, t), phase B (t, c), phase C (t, r).
	idxA := func(th, k int) int { return k*rowA + th + th>>5 }
	idxB := func(th, c int) int { return 33*th + c }
	idxC := func(th, r int) int { return 1056*(th>>5) + th&31 + 33*r }
	for name, idx := range map[string]func(th, j int) int{"A": idxA, "B": idxB, "C": idxC} {
		seen := make([]bool, n+n/32)
		for warp := range tb / 32 {
			for j := range 32 {
				var banks [32]bool
				for lane := range 32 {
					i := idx(32*warp+lane, j)
					if banks[i%32] {
						t.Fatalf("logN=%d phase %s: warp %d access %d has a bank conflict", logN, name, warp, j)
					}
					banks[i%32] = true
					if seen[i] || i%33 == 32 {
						t.Fatalf("logN=%d phase %s: shared index %d reused or a pad", logN, name, i)
					}
					seen[i] = true
				}
			}
		}
	}
	for blk := range grid {
		xs := make([]float32, n+n/32)
		pre := make([]float32, p*tb)
		stage := func(vec int) {
			for th := range tb {
				for k := range p {
					pre[k*tb+th] = x[vec*n+k*tb+th]
				}
			}
		}
		if p > 0 && blk < batch {
			stage(blk)
		}
		regs := make([][]float32, tb)
		for th := range regs {
			regs[th] = make([]float32, 32)
		}
		for vec := blk; vec < batch; vec += grid {
			base := x[vec*n : (vec+1)*n]
			for th, v := range regs {
				for k := p; k < 32; k++ {
					v[k] = base[k*tb+th]
				}
				for k := range p {
					v[k] = pre[k*tb+th]
				}
				emulateButterflies(v, 32)
				for k := range v {
					xs[idxA(th, k)] = v[k]
				}
			}
			if p > 0 && vec+grid < batch {
				stage(vec + grid)
			}
			for th, v := range regs {
				for c := range v {
					v[c] = xs[idxB(th, c)]
				}
				emulateButterflies(v, 32)
				for c := range v {
					xs[idxB(th, c)] = v[c]
				}
			}
			for th, v := range regs {
				for r := range v {
					v[r] = xs[idxC(th, r)]
				}
				emulateButterflies(v, limit)
				for r := range v {
					base[1024*(th>>5)+32*r+th&31] = v[r] * scale
				}
			}
		}
	}
}

// TestFWHTXEmulated holds the exchange kernels' index arithmetic (emulated
// on the CPU) to the CPU backend's transform, with and without staging, with
// grids smaller than the batch (blocks looping over several vectors).
func TestFWHTXEmulated(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for logN := 13; logN <= fwhtMaxBase; logN++ {
		for _, p := range []int{0, fwhtXStaged[logN-13]} {
			for _, sh := range []struct{ batch, grid int }{{1, 1}, {5, 2}, {4, 4}} {
				x := make([]float32, sh.batch<<logN)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				want := append([]float32(nil), x...)
				if err := cpu.FWHTFloat32(want, logN, sh.batch, 1, true); err != nil {
					t.Fatal(err)
				}
				emulateFWHTX(t, x, logN, sh.batch, p, sh.grid, float32(math.Exp2(-float64(logN)/2)))
				if e := relErr(x, want); e > 1e-5 {
					t.Errorf("logN=%d staged=%d batch=%d grid=%d: relative error %.3g", logN, p, sh.batch, sh.grid, e)
				}
			}
		}
	}
}

// TestFWHTEmulated holds the kernels' index arithmetic (emulated on the
// CPU) to the CPU backend's transform, for every one-kernel size and for
// multi-pass sizes with a small base.
func TestFWHTEmulated(t *testing.T) {
	ref := cpu.New(cpu.Options{PureGo: true})
	defer ref.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	type tc struct{ logN, batch, base int }
	var cases []tc
	for logN := 0; logN <= fwhtMaxBase; logN++ {
		cases = append(cases, tc{logN, 3, logN})
	}
	cases = append(cases, tc{11, 2, 10}, tc{14, 1, 10}, tc{16, 1, 10}, tc{17, 2, 12}, tc{16, 1, fwhtMaxBase})
	if !testing.Short() {
		cases = append(cases, tc{20, 1, fwhtMaxBase}, tc{21, 1, 13})
	}
	for _, c := range cases {
		for _, ortho := range []bool{false, true} {
			x := make([]float32, c.batch<<c.logN)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			want := append([]float32(nil), x...)
			if err := cpu.FWHTFloat32(want, c.logN, c.batch, 1, ortho); err != nil {
				t.Fatal(err)
			}
			scale := float32(1)
			if ortho {
				scale = float32(math.Exp2(-float64(c.logN) / 2))
			}
			emulateFWHT(x, c.logN, c.batch, c.base, scale)
			if e := relErr(x, want); e > 1e-5 {
				t.Errorf("logN=%d batch=%d base=%d ortho=%v: relative error %.3g", c.logN, c.batch, c.base, ortho, e)
			}
		}
	}
}

// relErr is ‖got − want‖/‖want‖ in float64 (‖got‖ when want is zero).
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, w float64
	for i := range got {
		d += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
		w += float64(want[i]) * float64(want[i])
	}
	if w == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / w)
}

// gpuBackend opens the CUDA backend or skips the test where there is none.
func gpuBackend(tb testing.TB) *Backend {
	tb.Helper()
	b, err := New(Options{Device: -1})
	if err != nil {
		tb.Skipf("no CUDA device: %v", err)
	}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Error(err)
		}
	})
	return b
}

// upload allocates a device buffer holding x.
func upload(tb testing.TB, b *Backend, x []float32) kernels.Buffer {
	tb.Helper()
	d, err := b.Alloc(kernels.Float32, len(x))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Free(d) })
	if err := b.Upload(d, x); err != nil {
		tb.Fatal(err)
	}
	return d
}

// download returns the contents of a device buffer.
func download(tb testing.TB, b *Backend, d kernels.Buffer) []float32 {
	tb.Helper()
	x := make([]float32, d.Len())
	if err := b.Download(x, d); err != nil {
		tb.Fatal(err)
	}
	return x
}

// TestFWHTLarge checks the multi-pass transform (2^16..2^24 elements, and
// views at odd offsets) on the GPU against the CPU backend.
func TestFWHTLarge(t *testing.T) {
	b := gpuBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	type tc struct{ logN, batch int }
	cases := []tc{{16, 1}, {17, 3}, {20, 2}, {21, 1}}
	if !testing.Short() {
		cases = append(cases, tc{22, 1}, tc{24, 1}, tc{25, 2})
	}
	for _, c := range cases {
		for _, ortho := range []bool{false, true} {
			x := make([]float32, 1+c.batch<<c.logN) // a view at offset 1
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			want := append([]float32(nil), x...)
			if err := cpu.FWHTFloat32(want[1:], c.logN, c.batch, 0, ortho); err != nil {
				t.Fatal(err)
			}
			d := upload(t, b, x)
			if err := b.FWHT(d.Slice(1, len(x)-1), c.logN, c.batch, ortho); err != nil {
				t.Fatal(err)
			}
			got := download(t, b, d)
			if got[0] != x[0] {
				t.Errorf("logN=%d: element before the view changed", c.logN)
			}
			// Rounding grows with the √n-fold growth of the unnormalised sums.
			if e := relErr(got[1:], want[1:]); e > 1e-5*math.Max(1, math.Sqrt(float64(c.logN))/2) {
				t.Errorf("FWHT logN=%d batch=%d ortho=%v: relative error %.3g", c.logN, c.batch, ortho, e)
			}
		}
	}
}

// TestFWHTAllSizes runs every logN of the one-kernel and multi-pass paths
// with an odd batch on the GPU (the conformance suite stops at 2^16), from
// 2^13 up with each kernel variant as well as the default.
func TestFWHTAllSizes(t *testing.T) {
	b := gpuBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	maxLog := 20
	if testing.Short() {
		maxLog = 17
	}
	for logN := 0; logN <= maxLog; logN++ {
		batch := max(1, min(5, (1<<18)>>logN))
		variants := []string{""}
		if logN >= 13 {
			variants = append(variants, fwhtVariants...)
		}
		for _, v := range variants {
			name := fmt.Sprint(logN)
			if v != "" {
				name += "/" + v
			}
			t.Run(name, func(t *testing.T) {
				if v != "" {
					withFWHTVariant(t, v)
				}
				testFWHTOnce(t, b, rng, logN, batch)
			})
		}
	}
}

// testFWHTOnce checks the orthonormal FWHT of batch random vectors of
// 2^logN elements on the GPU against the CPU backend.
func testFWHTOnce(t *testing.T, b *Backend, rng *rand.Rand, logN, batch int) {
	x := make([]float32, batch<<logN)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	want := append([]float32(nil), x...)
	if err := cpu.FWHTFloat32(want, logN, batch, 0, true); err != nil {
		t.Fatal(err)
	}
	d := upload(t, b, x)
	if err := b.FWHT(d, logN, batch, true); err != nil {
		t.Fatal(err)
	}
	if e := relErr(download(t, b, d), want); e > 1e-5 {
		t.Errorf("relative error %.3g", e)
	}
}

// TestFWHTPersistent runs the exchange kernels with batches larger than
// their grids (two rounds and a part per block: the persistent loop and the
// staging of each block's next vector) on the GPU.
func TestFWHTPersistent(t *testing.T) {
	b := gpuBackend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for logN := 13; logN <= fwhtMaxBase; logN++ {
		for _, v := range fwhtVariants[1:] {
			t.Run(fmt.Sprintf("%d/%s", logN, v), func(t *testing.T) {
				withFWHTVariant(t, v)
				xp, ok := b.planFWHTX(logN)
				if !ok {
					t.Skipf("no exchange kernel for 2^%d with %d bytes of shared memory", logN, b.maxSharedOptin)
				}
				batch := 2*b.numSMs*max(xp.perSM, 1) + 3
				testFWHTOnce(t, b, rng, logN, batch)
			})
		}
	}
}
