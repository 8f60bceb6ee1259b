package kerneltest

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// The optional interfaces a backend may implement (kernels.SignMasker,
// kernels.UninitAllocator): a backend without one skips its test, a backend
// with one must pass it like any other operation.

func testSignMask(h *harness) {
	sm, ok := h.b.(kernels.SignMasker)
	if !ok {
		h.t.Skip("no kernels.SignMasker (optional)")
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, n := range lengths() {
		x := h.randn(n, 1)
		for i := range x {
			if h.rng.IntN(8) == 0 {
				x[i] = special[h.rng.IntN(len(special))]
			}
		}
		xb := h.in(x)
		w := kernels.MaskWords(n)
		mr := h.alloc(kernels.Int32, w)
		junk := make([]int32, w)
		for i := range junk {
			junk[i] = -1 // every bit set: PackPositive must clear them
		}
		h.must(h.b.UploadInt32(mr.buf, junk))
		h.must(sm.PackPositive(mr.buf, xb))
		words := make([]int32, w)
		h.must(h.b.DownloadInt32(words, mr.buf))
		for i, v := range x {
			if got, want := uint32(words[i/32])>>(i%32)&1 == 1, v > 0; got != want {
				h.t.Fatalf("PackPositive n=%d: bit %d (x = %v) is %v, want %v", n, i, v, got, want)
			}
		}
		if r := n % 32; r != 0 && uint32(words[w-1])>>r != 0 {
			h.t.Fatalf("PackPositive n=%d: bits from n up set: %#x", n, uint32(words[w-1]))
		}
		dy := h.randn(n, 1)
		want := make([]float64, n)
		for i, v := range x {
			if v > 0 {
				want[i] = float64(dy[i])
			}
		}
		ob := h.out(n)
		h.must(sm.ApplyMask(ob, h.in(dy), mr.buf))
		h.exact("ApplyMask", h.get(ob), want)
		ab := h.acc(dy)
		h.must(sm.ApplyMask(ab, ab, mr.buf))
		h.exact("ApplyMask in place", h.get(ab), want)
	}
	x := h.in(h.randn(40, 1))
	h.wantErr("PackPositive, short mask", kernels.ErrShape, func() error { return sm.PackPositive(h.alloc(kernels.Int32, 1).buf, x) })
	h.wantErr("PackPositive, float mask", kernels.ErrDType, func() error { return sm.PackPositive(h.out(2), x) })
	h.wantErr("ApplyMask, length mismatch", kernels.ErrShape, func() error {
		return sm.ApplyMask(h.out(41), x, h.alloc(kernels.Int32, 2).buf)
	})
	h.wantErr("ApplyMask, foreign mask", kernels.ErrBackend, func() error {
		return sm.ApplyMask(h.out(40), x, h.foreign(kernels.Int32, 2))
	})
}

func testAllocUninit(h *harness) {
	u, ok := h.b.(kernels.UninitAllocator)
	if !ok {
		h.t.Skip("no kernels.UninitAllocator (optional)")
	}
	for _, n := range []int{0, 1, 1000, 1 << 16} {
		before := h.b.Mem().InUse
		b, err := u.AllocUninit(kernels.Float32, n)
		h.must(err)
		if b.Len() != n || b.DType() != kernels.Float32 {
			h.t.Fatalf("AllocUninit(%d): buffer of %d %v", n, b.Len(), b.DType())
		}
		if got := h.b.Mem().InUse - before; got < int64(4*n) {
			h.t.Errorf("AllocUninit(%d): InUse grew by %d bytes", n, got)
		}
		x := h.randn(n, 1)
		h.must(h.b.Upload(b, x))
		h.exact("AllocUninit round trip", h.get(b), F64(x))
		h.must(h.b.Free(b))
		if got := h.b.Mem().InUse; got != before {
			h.t.Errorf("AllocUninit(%d) then Free: InUse %d, want %d", n, got, before)
		}
	}
	h.wantErr("AllocUninit(-1)", kernels.ErrShape, func() error { _, err := u.AllocUninit(kernels.Float32, -1); return err })
}

func testDiscard(h *harness) {
	d, ok := h.b.(kernels.Discarder)
	if !ok {
		h.t.Skip("no kernels.Discarder (optional)")
	}
	for _, n := range []int{1, 1000, 1 << 16, 1 << 20} {
		b, err := h.b.Alloc(kernels.Float32, n)
		h.must(err)
		h.must(h.b.Upload(b, h.randn(n, 1)))
		held := h.b.Mem().InUse
		h.must(d.Discard(b))
		h.must(d.Discard(b)) // twice is once
		if got := h.b.Mem().InUse; got > held {
			h.t.Errorf("Discard(%d): InUse grew from %d to %d bytes", n, held, got)
		}
		h.must(h.b.Fill(b, 0))
		low := h.b.Mem().InUse
		if low > held {
			h.t.Errorf("Discard(%d) then Fill 0: InUse %d, above %d before", n, low, held)
		}
		h.exact("Discard reads zeros", h.get(b), make([]float64, n))
		// The next write takes memory again and sees zeros elsewhere.
		y := h.randn(n, 1)
		h.must(d.Discard(b))
		h.must(h.b.Binary(kernels.Add, b, b, h.in(y)))
		h.exact("Add into a discarded buffer", h.get(b), F64(y))
		h.must(d.Discard(b))
		if n > 2 {
			half := h.randn(n/2, 1)
			h.must(h.b.Upload(b.Slice(1, n/2), half))
			want := make([]float64, n)
			for i, v := range half {
				want[1+i] = float64(v)
			}
			h.exact("Upload into a view of a discarded buffer", h.get(b), want)
		}
		h.must(h.b.Fill(b, 1)) // in use again
		pre := h.b.Mem().InUse
		h.must(d.Discard(b))
		h.must(h.b.Free(b))
		if got, want := h.b.Mem().InUse, pre-int64(4*n); got != want {
			h.t.Errorf("Discard(%d) then Free: InUse %d, want %d", n, got, want)
		}
	}
	// A product accumulating into a discarded C (a gradient's first
	// contribution) sees zeros, whatever its β.
	const m, n, k = 37, 300, 70 // C of 11100 elements, and 1 << 16 below
	for _, sz := range [][3]int{{m, n, k}, {256, 256, 9}} {
		a, bm := h.in(h.randn(sz[0]*sz[2], 1)), h.in(h.randn(sz[2]*sz[1], 1))
		for _, beta := range []float32{1, 0.5, 0} {
			want, err := h.b.Alloc(kernels.Float32, sz[0]*sz[1])
			h.must(err)
			h.must(h.b.Gemm(kernels.GemmParams{M: sz[0], N: sz[1], K: sz[2], Alpha: 1, Beta: beta, A: a, B: bm, C: want}))
			c, err := h.b.Alloc(kernels.Float32, sz[0]*sz[1])
			h.must(err)
			h.must(h.b.Upload(c, h.randn(sz[0]*sz[1], 1)))
			h.must(d.Discard(c))
			h.must(h.b.Gemm(kernels.GemmParams{M: sz[0], N: sz[1], K: sz[2], Alpha: 1, Beta: beta, A: a, B: bm, C: c}))
			h.exact(fmt.Sprintf("Gemm %v β=%v into a discarded C", sz, beta), h.get(c), F64(h.get(want)))
			h.must(h.b.Free(c))
			h.must(h.b.Free(want))
		}
	}
	b, err := h.b.Alloc(kernels.Float32, 64)
	h.must(err)
	if err := d.Discard(b.Slice(1, 8)); err == nil {
		h.t.Error("Discard of a view: no error")
	}
	h.must(h.b.Free(b))
	if err := d.Discard(b); err == nil {
		h.t.Error("Discard of a freed buffer: no error")
	}
	h.wantErr("Discard of a foreign buffer", kernels.ErrBackend, func() error { return d.Discard(h.foreign(kernels.Float32, 4)) })
}
