//go:build linux && cgo && !nocuda

package cuda

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// These tests need a GPU (they skip without one); the conformance suite
// covers every operation, these the CUDA-specific parts.

func openTest(t *testing.T, o Options) *Backend {
	t.Helper()
	if err := Probe(); err != nil {
		t.Skip(err)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// TestGemmMath runs a GEMM in each compute mode against float64: FP32 to
// float32 rounding, TF32 and BF16 to their mantissas.
func TestGemmMath(t *testing.T) {
	const m, n, k = 64, 48, 256
	rng := rand.New(rand.NewPCG(1, 2))
	a, bm := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range bm {
		bm[i] = float32(rng.NormFloat64())
	}
	want := make([]float64, m*n)
	for i := range m {
		for j := range n {
			for l := range k {
				want[i*n+j] += float64(a[i*k+l]) * float64(bm[l*n+j])
			}
		}
	}
	for _, c := range []struct {
		math Math
		tol  float64
	}{{MathFP32, 1e-6}, {MathTF32, 3e-3}, {MathBF16, 2e-2}} {
		b := openTest(t, Options{Device: -1, Math: c.math})
		da, _ := b.Alloc(kernels.Float32, m*k)
		db, _ := b.Alloc(kernels.Float32, k*n)
		dc, _ := b.Alloc(kernels.Float32, m*n)
		if err := b.Upload(da, a); err != nil {
			t.Fatal(err)
		}
		if err := b.Upload(db, bm); err != nil {
			t.Fatal(err)
		}
		if err := b.Gemm(kernels.GemmParams{M: m, N: n, K: k, Alpha: 1, A: da, B: db, C: dc}); err != nil {
			t.Fatalf("%v: %v", c.math, err)
		}
		got := make([]float32, m*n)
		if err := b.Download(got, dc); err != nil {
			t.Fatal(err)
		}
		var num, den float64
		for i, w := range want {
			num += (float64(got[i]) - w) * (float64(got[i]) - w)
			den += w * w
		}
		if e := math.Sqrt(num / den); e > c.tol {
			t.Errorf("Gemm with %v: relative error %.3g > %.3g", c.math, e, c.tol)
		} else {
			t.Logf("Gemm with %v: relative error %.3g", c.math, e)
		}
	}
}

// TestDeviceMemory checks the allocator on the device: reuse of a freed
// block, Mem, Trim, and the OOM error for an impossible allocation.
func TestDeviceMemory(t *testing.T) {
	b := openTest(t, Options{Device: -1})
	x, err := b.Alloc(kernels.Float32, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p0, _ := b.ptr(x)
	if err := b.Free(x); err != nil {
		t.Fatal(err)
	}
	y, err := b.Alloc(kernels.Float32, 1<<20-7)
	if err != nil {
		t.Fatal(err)
	}
	if p1, _ := b.ptr(y); p1 != p0 {
		t.Errorf("a freed block of the same class was not reused (%#x, %#x)", p0, p1)
	}
	got := make([]float32, y.Len())
	if err := b.Download(got, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 0 {
			t.Fatalf("reused block not zeroed: element %d is %v", i, v)
		}
	}
	if m := b.Mem(); m.InUse != int64(y.Len())*4 {
		t.Errorf("Mem %+v, want InUse %d", m, y.Len()*4)
	}
	if err := b.Free(y); err != nil {
		t.Fatal(err)
	}
	if err := b.Trim(); err != nil || b.Cached() != 0 {
		t.Errorf("Trim: %v, cached %d", err, b.Cached())
	}
	_, total, err := b.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	// More than the device holds (within maxElems): a clear OOM error.
	if n := total/4 + 1<<20; n <= maxElems {
		_, err := b.Alloc(kernels.Float32, int(n))
		if !strings.Contains(fmtErr(err), "out of memory") {
			t.Errorf("Alloc of %d elements on a %d-byte device: %v, want ErrOutOfMemory", n, total, err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Errorf("Sync after an OOM: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestLaunchArgs checks that launch rejects argument types the kernels
// cannot take and that a kernel runs through fn/launch directly.
func TestLaunchArgs(t *testing.T) {
	b := openTest(t, Options{Device: -1})
	f, err := b.fn("elementwise", "scale_f32")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Alloc(kernels.Float32, 5)
	defer b.Free(x)
	if err := b.Upload(x, []float32{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	p, _ := b.ptr(x.Slice(1, 3))
	if err := b.launch(f, dim3{1, 1, 1}, dim3{32, 1, 1}, 0, p, 3, float32(2)); err == nil {
		t.Error("launch accepted a Go int argument")
	}
	if err := b.launch(f, dim3{1, 1, 1}, dim3{32, 1, 1}, 0, p, int64(3), float32(2)); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 5)
	if err := b.Download(got, x); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 4, 6, 8, 5}; !equal(got, want) {
		t.Errorf("scale of a view gave %v, want %v", got, want)
	}
	if _, err := b.fn("elementwise", "no_such_kernel"); err == nil {
		t.Error("fn of a missing kernel succeeded")
	}
	if _, err := b.fn("no_such_module", "k"); err == nil {
		t.Error("fn of a missing module succeeded")
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
