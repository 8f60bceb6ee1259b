package kerneltest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// Bit patterns the harness writes: poison fills outputs before an operation
// (an element the operation fails to write stays NaN and fails the
// comparison), guard fills the elements around a view (an operation that
// writes outside its view changes them; one that reads them computes NaN).
var (
	poison = math.Float32frombits(0x7fd00bad)
	guard  = math.Float32frombits(0x7fe5a5a5)
)

const guardInt = -0x5a5a5a5

// rec is one allocation made by the harness.
type rec struct {
	parent    kernels.Buffer // what Alloc returned
	buf       kernels.Buffer // what operations get: parent or a view of it
	off, tail int
	ro        bool // an input: the operation must leave it unchanged
	f         []float32
	i         []int32
}

// harness runs operations of one backend on buffers it allocates, in one of
// two modes: whole buffers, or views at odd offsets surrounded by guards.
type harness struct {
	t     *testing.T
	b     kernels.Backend
	open  func(t *testing.T) kernels.Backend
	other kernels.Backend
	rng   *rand.Rand
	view  bool
	recs  []*rec
}

// eachMode opens one backend and runs fn on it twice, as the subtests
// "whole" and "view".
func eachMode(t *testing.T, open func(t *testing.T) kernels.Backend, fn func(h *harness)) {
	b := open(t)
	defer closeBackend(t, b)
	for _, view := range []bool{false, true} {
		name := "whole"
		if view {
			name = "view"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, b, open)
			h.view = view
			defer h.done()
			fn(h)
		})
	}
}

func newHarness(t *testing.T, b kernels.Backend, open func(t *testing.T) kernels.Backend) *harness {
	f := fnv.New64a()
	f.Write([]byte(t.Name()))
	return &harness{t: t, b: b, open: open, rng: rand.New(rand.NewPCG(f.Sum64(), 0x9e3779b97f4a7c15))}
}

func closeBackend(t *testing.T, b kernels.Backend) {
	t.Helper()
	if err := b.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// done checks and frees everything and closes the other backend.
func (h *harness) done() {
	h.release()
	if h.other != nil {
		closeBackend(h.t, h.other)
		h.other = nil
	}
}

// release checks the guards and inputs of every buffer allocated since the
// last release and frees them.
func (h *harness) release() {
	h.t.Helper()
	if err := h.b.Sync(); err != nil {
		h.t.Errorf("Sync: %v", err)
	}
	for k, r := range h.recs {
		h.checkRec(k, r)
		if err := h.b.Free(r.parent); err != nil {
			h.t.Errorf("Free: %v", err)
		}
	}
	h.recs = h.recs[:0]
}

func (h *harness) checkRec(k int, r *rec) {
	h.t.Helper()
	n := r.parent.Len()
	if r.parent.DType() == kernels.Int32 {
		all := make([]int32, n)
		h.must(h.b.DownloadInt32(all, r.parent))
		for j, v := range all {
			inside := j >= r.off && j < n-r.tail
			switch {
			case !inside && v != guardInt:
				h.t.Errorf("buffer %d: element %d outside the view [%d, %d) was overwritten with %d", k, j, r.off, n-r.tail, v)
				return
			case inside && r.ro && v != r.i[j-r.off]:
				h.t.Errorf("buffer %d (an input): element %d changed from %d to %d", k, j-r.off, r.i[j-r.off], v)
				return
			}
		}
		return
	}
	all := make([]float32, n)
	h.must(h.b.Download(all, r.parent))
	for j, v := range all {
		inside := j >= r.off && j < n-r.tail
		switch {
		case !inside && math.Float32bits(v) != math.Float32bits(guard):
			h.t.Errorf("buffer %d: element %d outside the view [%d, %d) was overwritten with %v", k, j, r.off, n-r.tail, v)
			return
		case inside && r.ro && math.Float32bits(v) != math.Float32bits(r.f[j-r.off]):
			h.t.Errorf("buffer %d (an input): element %d changed from %v to %v", k, j-r.off, r.f[j-r.off], v)
			return
		}
	}
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// alloc allocates n elements, as a view with guards in view mode.
func (h *harness) alloc(dt kernels.DType, n int) *rec {
	h.t.Helper()
	r := &rec{}
	if h.view {
		r.off = 1 + 2*h.rng.IntN(4) // 1, 3, 5 or 7: never 32-byte aligned
		r.tail = 1 + h.rng.IntN(9)
	}
	total := r.off + n + r.tail
	p, err := h.b.Alloc(dt, total)
	h.must(err)
	r.parent, r.buf = p, p
	if h.view {
		if dt == kernels.Int32 {
			g := make([]int32, total)
			for j := range g {
				g[j] = guardInt
			}
			h.must(h.b.UploadInt32(p, g))
		} else {
			g := make([]float32, total)
			for j := range g {
				g[j] = guard
			}
			h.must(h.b.Upload(p, g))
		}
		r.buf = p.Slice(r.off, n)
	}
	h.recs = append(h.recs, r)
	return r
}

// in uploads an input that the operation must leave unchanged.
func (h *harness) in(x []float32) kernels.Buffer {
	h.t.Helper()
	r := h.alloc(kernels.Float32, len(x))
	h.must(h.b.Upload(r.buf, x))
	r.ro, r.f = true, append([]float32(nil), x...)
	return r.buf
}

// acc uploads a buffer the operation reads and writes (or only writes).
func (h *harness) acc(x []float32) kernels.Buffer {
	h.t.Helper()
	r := h.alloc(kernels.Float32, len(x))
	h.must(h.b.Upload(r.buf, x))
	return r.buf
}

// out allocates an output filled with poison.
func (h *harness) out(n int) kernels.Buffer {
	h.t.Helper()
	return h.acc(h.poisoned(n))
}

// ints uploads an Int32 input.
func (h *harness) ints(x []int32) kernels.Buffer {
	h.t.Helper()
	r := h.alloc(kernels.Int32, len(x))
	h.must(h.b.UploadInt32(r.buf, x))
	r.ro, r.i = true, append([]int32(nil), x...)
	return r.buf
}

// get downloads a float32 buffer.
func (h *harness) get(b kernels.Buffer) []float32 {
	h.t.Helper()
	out := make([]float32, b.Len())
	h.must(h.b.Download(out, b))
	return out
}

// foreign returns a buffer of n elements of another instance of the backend.
func (h *harness) foreign(dt kernels.DType, n int) kernels.Buffer {
	h.t.Helper()
	if h.other == nil {
		h.other = h.open(h.t)
	}
	b, err := h.other.Alloc(dt, n)
	h.must(err)
	return b
}

func (h *harness) poisoned(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = poison
	}
	return x
}

// randn returns n normal numbers of standard deviation scale.
func (h *harness) randn(n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(h.rng.NormFloat64() * scale)
	}
	return x
}

// randu returns n numbers uniform in [lo, hi).
func (h *harness) randu(n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*h.rng.Float64())
	}
	return x
}

// RelErr returns ‖got − want‖/‖want‖ (‖got − want‖ when want is zero): NaN
// when got holds a NaN, +Inf when it holds an infinity.
func RelErr(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// check fails the test when RelErr(got, want) > tol, naming the element that
// is furthest off.
func (h *harness) check(what string, got []float32, want []float64, tol float64) {
	h.t.Helper()
	h.checkScaled(what, got, want, tol, nil)
}

// checkScaled is check for results that may cancel (‖want‖ much smaller
// than the terms that make it up, where float32 rounding is relative to the
// terms): when the plain check fails and scale is not nil, the error is
// measured relative to max(‖want‖, scale()) instead, scale() being the norm
// of the terms (typically the reference run on absolute values).
func (h *harness) checkScaled(what string, got []float32, want []float64, tol float64, scale func() float64) {
	h.t.Helper()
	if len(got) != len(want) {
		h.t.Errorf("%s: %d elements, reference has %d", what, len(got), len(want))
		return
	}
	e := RelErr(got, want)
	if e <= tol {
		return
	}
	if nw := norm(want); scale != nil {
		if sc := scale(); sc > nw {
			if nw == 0 {
				e /= sc
			} else {
				e *= nw / sc
			}
			if e <= tol {
				return
			}
		}
	}
	worst, wd, nans := 0, -1.0, 0
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) {
			nans++
			if wd < math.Inf(1) {
				worst, wd = i, math.Inf(1)
			}
			continue
		}
		if d := math.Abs(g - w); d > wd {
			worst, wd = i, d
		}
	}
	h.t.Errorf("%s: relative error %.3g > tolerance %.3g (%d elements, %d NaN; worst at %d: got %v, want %v)",
		what, e, tol, len(want), nans, worst, got[worst], want[worst])
}

// exact fails the test unless got equals want element by element.
func (h *harness) exact(what string, got []float32, want []float64) {
	h.t.Helper()
	for i, w := range want {
		if float64(got[i]) != w {
			h.t.Errorf("%s: element %d of %d is %v, want exactly %v", what, i, len(want), got[i], w)
			return
		}
	}
}

// wantErr fails the test unless f returns an error (from the call or from
// the Sync after it) that wraps want (any error when want is nil), without
// panicking.
func (h *harness) wantErr(what string, want error, f func() error) {
	h.t.Helper()
	err, panicked := func() (err error, panicked bool) {
		defer func() {
			if r := recover(); r != nil {
				err, panicked = fmt.Errorf("%v", r), true
			}
		}()
		if err := f(); err != nil {
			return err, false
		}
		return h.b.Sync(), false
	}()
	switch {
	case panicked:
		h.t.Errorf("%s: panicked (%v), want an error", what, err)
	case err == nil:
		h.t.Errorf("%s: no error, want one wrapping %v", what, want)
	case want != nil && !errors.Is(err, want):
		h.t.Errorf("%s: error %q does not wrap %q", what, err, want)
	}
}

// norm returns the Euclidean norm.
func norm(x []float64) float64 { return math.Sqrt(SumSquares(x)) }

// abs returns |x| in float64.
func abs(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Abs(float64(v))
	}
	return out
}

// absOrNil is abs, keeping nil.
func absOrNil(x []float32) []float64 {
	if x == nil {
		return nil
	}
	return abs(x)
}

// absKron returns k with the absolute values of its weights.
func absKron(k Kron) Kron {
	a := func(x []float64) []float64 {
		if x == nil {
			return nil
		}
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = math.Abs(v)
		}
		return out
	}
	k.A, k.W, k.S, k.T = a(k.A), a(k.W), a(k.S), a(k.T)
	return k
}

// Backends lists the backends reference tests should run on: "cpu" and
// "purego" always (they run everywhere), then every other registered backend
// that is available on this machine (such as "cuda" where a GPU is present).
func Backends() []string {
	names := []string{"cpu", "purego"}
	for _, in := range kernels.Drivers() {
		if in.Err == nil && in.Name != "cpu" && in.Name != "purego" {
			names = append(names, in.Name)
		}
	}
	return names
}

// Download copies buf to a new slice, failing the test on error.
func Download(t testing.TB, be kernels.Backend, buf kernels.Buffer) []float32 {
	t.Helper()
	out := make([]float32, buf.Len())
	if err := be.Download(out, buf); err != nil {
		t.Fatal(err)
	}
	return out
}

// CloseTo checks |got−want| ≤ abs + rel·|want| elementwise, reports the
// first few violations and their count, and returns the largest |Δ|.
func CloseTo(t testing.TB, name string, got, want []float32, abs, rel float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	worst, bad := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		worst = max(worst, d)
		if !(d <= abs+rel*math.Abs(float64(want[i]))) {
			if bad < 3 {
				t.Errorf("%s[%d] = %g, want %g (|Δ| %.3g)", name, i, got[i], want[i], d)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance", name, bad, len(got))
	}
	return worst
}

// MaxAbs returns max |v[i]| (0 for an empty slice).
func MaxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}
