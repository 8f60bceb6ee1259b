package kerneltest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// Tolerances of the suite, on the relative error ‖out − ref‖/‖ref‖ against
// the float64 references (float32 rounding is about 6e-8 per operation).
// Results that are sums of n float32 terms get max(TolReduce, 1e-6·√n)
// instead (the random-walk growth of a plain float32 accumulation, which
// the spec allows). Results that may cancel (a signed sum much smaller than
// its terms: Gemm with beta, Sub, gradients, FWHT, softmax − one-hot, …)
// are measured, when the plain check fails, relative to the norm of their
// terms (the reference run on absolute values) rather than to ‖ref‖.
const (
	// TolElem is for elementwise arithmetic (Binary, Axpby, Scale, AddBias,
	// ReLU, Dropout, AdamW, EmbeddingBackward): a few roundings per element.
	TolElem = 1e-6
	// TolTransc is for elementwise transcendental functions (GELU, SiLU,
	// tanh, sigmoid and their derivatives), which backends may compute with
	// polynomial approximations good to a few float32 ulps.
	TolTransc = 1e-5
	// TolReduce is for reductions and everything built on them: Gemm (times
	// √(K/1024) beyond K = 1024), SumRows, SumSquares, RMSNorm, Softmax,
	// CrossEntropy, FWHT, KronSum, PHM forward and DX.
	TolReduce = 1e-5
	// TolGrad is for the parameter gradients of PHM layers (KronSumBackward,
	// PHMBackward), which sum Rows·In·Out/N products.
	TolGrad = 5e-5
)

// tolSum is the tolerance of results that sum n float32 terms (a row of a
// softmax, RMSNorm or cross-entropy, a column of SumRows): TolReduce,
// growing as 1e-6·√n beyond 100 terms.
func tolSum(n int) float64 { return math.Max(TolReduce, 1e-6*math.Sqrt(float64(n))) }

// Run runs the conformance suite: one subtest per Backend operation (named
// after it, so that -run 'Conformance/Gemm' selects one), plus Memory
// (Alloc, Free, Mem, ResetPeak, Slice) and Transfer (Upload, Download, Copy,
// Fill), and the optional interfaces (SignMask, AllocUninit, Discard: skipped where
// the backend lacks them). Each calls open for a fresh backend (and again when it needs a
// second instance, for ErrBackend), and Run closes every backend it opens.
//
// Each operation runs on random inputs of awkward shapes (1, primes,
// non-multiples of the AVX2 width 8, a few large ones), on whole buffers
// and on views at odd offsets surrounded by guard elements (which must not
// be written, and are NaN so that reading them shows); outputs start
// poisoned with NaN (an unwritten element fails), accumulated outputs start
// random; inputs must come back unchanged bit for bit; the aliasing the spec
// allows is exercised. Bad arguments must give errors wrapping
// kernels.ErrShape, ErrDType or ErrBackend, without panicking. Under
// testing.Short the largest shapes are skipped.
//
// Where the spec leaves room, the suite requires: an id or label out of range
// is an error (for EmbeddingBackward too), reported by the call or by the
// following Sync; a row whose every score is −∞ (masks) is all zeros, like a
// row excluded by Causal; an unknown BinaryOp, Activation or a NaN dropout
// p is an error; SumSquares leaves dst[1:] alone; Alloc of 0 elements works;
// Mem's InUse grows by at least the bytes allocated and comes back exactly
// after Free.
func Run(t *testing.T, open func(t *testing.T) kernels.Backend) {
	ops := []struct {
		name string
		fn   func(h *harness)
	}{
		{"Memory", testMemory},
		{"Transfer", testTransfer},
		{"Gemm", testGemm},
		{"Binary", testBinary},
		{"Axpby", testAxpby},
		{"Scale", testScale},
		{"AddBias", testAddBias},
		{"SumRows", testSumRows},
		{"SumSquares", testSumSquares},
		{"Act", testAct},
		{"ActBackward", testActBackward},
		{"RMSNorm", testRMSNorm},
		{"RMSNormBackward", testRMSNormBackward},
		{"Softmax", testSoftmax},
		{"SoftmaxBackward", testSoftmaxBackward},
		{"Embedding", testEmbedding},
		{"EmbeddingBackward", testEmbeddingBackward},
		{"CrossEntropy", testCrossEntropy},
		{"AdamW", testAdamW},
		{"Dropout", testDropout},
		{"Permute", testPermute},
		{"FWHT", testFWHT},
		{"KronSum", testKronSum},
		{"KronSumBackward", testKronSumBackward},
		{"PHM", testPHM},
		{"PHMBackward", testPHMBackward},
		{"SignMask", testSignMask},
		{"AllocUninit", testAllocUninit},
		{"Discard", testDiscard},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) { eachMode(t, open, op.fn) })
	}
}

// OpenDriver returns an open function for Run that opens the registered
// backend name, skipping the test when it is unavailable on this machine.
func OpenDriver(name string) func(t *testing.T) kernels.Backend {
	return func(t *testing.T) kernels.Backend {
		t.Helper()
		b, err := kernels.Open(name)
		if errors.Is(err, kernels.ErrUnavailable) {
			t.Skipf("backend %s: %v", name, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// lengths are the vector lengths of elementwise tests: 1, around the AVX2
// width and its multiples, primes, and a large one.
func lengths() []int {
	n := []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 1031, 4099}
	if !testing.Short() {
		n = append(n, 100003)
	}
	return n
}

func testMemory(h *harness) {
	b := h.b
	if err := b.Sync(); err != nil {
		h.t.Fatalf("Sync: %v", err)
	}
	m0 := b.Mem()
	if m0.Peak < m0.InUse || m0.InUse < 0 {
		h.t.Errorf("Mem %+v: want 0 ≤ InUse ≤ Peak", m0)
	}
	x, err := b.Alloc(kernels.Float32, 1000)
	h.must(err)
	y, err := b.Alloc(kernels.Int32, 77)
	h.must(err)
	m1 := b.Mem()
	if m1.InUse < m0.InUse+1077*4 || m1.Peak < m1.InUse {
		h.t.Errorf("after allocating 1077 elements Mem went from %+v to %+v", m0, m1)
	}
	if x.Len() != 1000 || x.DType() != kernels.Float32 || y.Len() != 77 || y.DType() != kernels.Int32 {
		h.t.Errorf("Alloc gave len/dtype %d/%v and %d/%v", x.Len(), x.DType(), y.Len(), y.DType())
	}
	// Alloc zeroes.
	h.exact("Alloc(Float32) contents", h.get(x), make([]float64, 1000))
	yi := make([]int32, 77)
	h.must(b.DownloadInt32(yi, y))
	for i, v := range yi {
		if v != 0 {
			h.t.Errorf("Alloc(Int32) element %d is %d, want 0", i, v)
			break
		}
	}
	h.must(b.Free(x))
	h.must(b.Free(y))
	m2 := b.Mem()
	if m2.InUse != m0.InUse || m2.Peak < m1.InUse {
		h.t.Errorf("after freeing: Mem %+v, want InUse %d and Peak ≥ %d", m2, m0.InUse, m1.InUse)
	}
	b.ResetPeak()
	if m3 := b.Mem(); m3.Peak != m3.InUse {
		h.t.Errorf("after ResetPeak: Mem %+v, want Peak = InUse", m3)
	}
	// Alloc of zero elements works; negative sizes and unknown dtypes fail.
	z, err := b.Alloc(kernels.Float32, 0)
	if err != nil || z.Len() != 0 {
		h.t.Errorf("Alloc(Float32, 0) = %v, %v", z, err)
	} else {
		h.must(b.Free(z))
	}
	h.wantErr("Alloc(-1)", nil, func() error { _, err := b.Alloc(kernels.Float32, -1); return err })
	h.wantErr("Alloc(DType(0))", nil, func() error { _, err := b.Alloc(kernels.DType(0), 4); return err })

	// Free twice, free a view, free a buffer of another backend, use after
	// free.
	p, err := b.Alloc(kernels.Float32, 16)
	h.must(err)
	h.wantErr("Free of a view", nil, func() error { return b.Free(p.Slice(1, 4)) })
	h.wantErr("Free of a foreign buffer", kernels.ErrBackend, func() error { return b.Free(h.foreign(kernels.Float32, 4)) })
	h.must(b.Free(p))
	h.wantErr("Free twice", nil, func() error { return b.Free(p) })
	h.wantErr("Upload to a freed buffer", kernels.ErrBackend, func() error { return b.Upload(p, make([]float32, 16)) })
	h.wantErr("Fill of a freed buffer", kernels.ErrBackend, func() error { return b.Fill(p, 1) })
	h.wantErr("Scale of a freed buffer", kernels.ErrBackend, func() error { return b.Scale(p, 2) })

	// Slice bounds: views of views, and out-of-range slices panic.
	q, err := b.Alloc(kernels.Float32, 10)
	h.must(err)
	defer func() { h.must(b.Free(q)) }()
	v := q.Slice(2, 6).Slice(1, 3)
	if v.Len() != 3 || v.DType() != kernels.Float32 {
		h.t.Errorf("view of a view: len %d dtype %v", v.Len(), v.DType())
	}
	h.must(b.Upload(v, []float32{1, 2, 3}))
	h.exact("view of a view", h.get(q), []float64{0, 0, 0, 1, 2, 3, 0, 0, 0, 0})
	for _, r := range [][2]int{{-1, 2}, {0, 11}, {10, 1}, {3, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					h.t.Errorf("Slice(%d, %d) of 10 elements did not panic", r[0], r[1])
				}
			}()
			q.Slice(r[0], r[1])
		}()
	}
}

func testTransfer(h *harness) {
	b := h.b
	for _, n := range lengths() {
		x := h.randn(n, 1)
		src := h.in(x)
		// Download gives back what Upload put.
		h.exact(fmt.Sprintf("Upload/Download n=%d", n), h.get(src), F64(x))
		// Copy, into a view.
		dst := h.out(n)
		h.must(b.Copy(dst, src))
		h.exact(fmt.Sprintf("Copy n=%d", n), h.get(dst), F64(x))
		// Fill.
		h.must(b.Fill(dst, -2.5))
		want := make([]float64, n)
		for i := range want {
			want[i] = -2.5
		}
		h.exact(fmt.Sprintf("Fill n=%d", n), h.get(dst), want)
		// Int32 round trip and copy.
		ids := make([]int32, n)
		for i := range ids {
			ids[i] = int32(h.rng.Uint32())
		}
		ib := h.ints(ids)
		r := h.alloc(kernels.Int32, n)
		h.must(b.Copy(r.buf, ib))
		got := make([]int32, n)
		h.must(b.DownloadInt32(got, r.buf))
		for i := range got {
			if got[i] != ids[i] {
				h.t.Errorf("Int32 Upload/Copy/Download n=%d: element %d is %d, want %d", n, i, got[i], ids[i])
				break
			}
		}
		h.release()
	}
	// NaN, infinities and signed zeros survive the round trip bit for bit.
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.MaxFloat32, math.SmallestNonzeroFloat32}
	sb := h.in(special)
	for i, v := range h.get(sb) {
		if math.Float32bits(v) != math.Float32bits(special[i]) {
			h.t.Errorf("special value %v came back as %v", special[i], v)
		}
	}

	f, i := h.out(5), h.alloc(kernels.Int32, 5).buf
	h.wantErr("Upload of 4 into 5", kernels.ErrShape, func() error { return b.Upload(f, make([]float32, 4)) })
	h.wantErr("Upload of 6 into 5", kernels.ErrShape, func() error { return b.Upload(f, make([]float32, 6)) })
	h.wantErr("Download of 5 into 4", kernels.ErrShape, func() error { return b.Download(make([]float32, 4), f) })
	h.wantErr("UploadInt32 of 4 into 5", kernels.ErrShape, func() error { return b.UploadInt32(i, make([]int32, 4)) })
	h.wantErr("DownloadInt32 of 5 into 6", kernels.ErrShape, func() error { return b.DownloadInt32(make([]int32, 6), i) })
	h.wantErr("Upload into Int32", kernels.ErrDType, func() error { return b.Upload(i, make([]float32, 5)) })
	h.wantErr("UploadInt32 into Float32", kernels.ErrDType, func() error { return b.UploadInt32(f, make([]int32, 5)) })
	h.wantErr("Download of Int32", kernels.ErrDType, func() error { return b.Download(make([]float32, 5), i) })
	h.wantErr("DownloadInt32 of Float32", kernels.ErrDType, func() error { return b.DownloadInt32(make([]int32, 5), f) })
	h.wantErr("Copy Int32 to Float32", kernels.ErrDType, func() error { return b.Copy(f, i) })
	h.wantErr("Copy of 4 into 5", kernels.ErrShape, func() error { return b.Copy(f, h.in(make([]float32, 4))) })
	h.wantErr("Fill of Int32", kernels.ErrDType, func() error { return b.Fill(i, 1) })
	h.wantErr("Upload to a foreign buffer", kernels.ErrBackend, func() error {
		return b.Upload(h.foreign(kernels.Float32, 5), make([]float32, 5))
	})
	h.wantErr("Copy from a foreign buffer", kernels.ErrBackend, func() error { return b.Copy(f, h.foreign(kernels.Float32, 5)) })
	h.wantErr("Download of a foreign buffer", kernels.ErrBackend, func() error {
		return b.Download(make([]float32, 5), h.foreign(kernels.Float32, 5))
	})
}

// gemmCase is one Gemm test: the stored matrices are padded per lda/ldb/ldc
// and batch strides; padding of A and B holds NaN (it must not be read),
// padding of C random values (it must not be written).
type gemmCase struct {
	ta, tb      bool
	m, n, k     int
	alpha, beta float32
	padA, padB  int
	padC        int
	batch       int
	strideA     int // -1: broadcast (0), else extra gap
	strideB     int
	gapC        int
}

func (h *harness) runGemm(c gemmCase) {
	h.t.Helper()
	ar, ac := c.m, c.k
	if c.ta {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.tb {
		br, bc = c.n, c.k
	}
	lda, ldb, ldc := ac+c.padA, bc+c.padB, c.n+c.padC
	span := func(r, cl, ld int) int {
		if r == 0 || cl == 0 {
			return 0
		}
		return (r-1)*ld + cl
	}
	sa, sb, sc := span(ar, ac, lda)+c.strideA, span(br, bc, ldb)+c.strideB, span(c.m, c.n, ldc)+c.gapC
	if c.strideA < 0 {
		sa = 0
	}
	if c.strideB < 0 {
		sb = 0
	}
	total := func(sp, st int) int { return max((c.batch-1)*st+sp, 1) }
	fill := func(sp, st, r, cl, ld int, pad, val func() float32) []float32 {
		x := make([]float32, total(sp, st))
		for i := range x {
			x[i] = pad()
		}
		for bt := 0; bt < c.batch; bt++ {
			for i := 0; i < r; i++ {
				for j := 0; j < cl; j++ {
					x[bt*st+i*ld+j] = val()
				}
			}
		}
		return x
	}
	nan := func() float32 { return poison }
	rnd := func() float32 { return float32(h.rng.NormFloat64()) }
	av := fill(span(ar, ac, lda), sa, ar, ac, lda, nan, rnd)
	bv := fill(span(br, bc, ldb), sb, br, bc, ldb, nan, rnd)
	cval := rnd
	if c.beta == 0 {
		cval = nan
	}
	cv := fill(span(c.m, c.n, ldc), sc, c.m, c.n, ldc, rnd, cval)
	want := F64(cv)
	af, bf := F64(av), F64(bv)
	for bt := 0; bt < c.batch; bt++ {
		if c.m > 0 && c.n > 0 {
			Gemm(c.ta, c.tb, c.m, c.n, c.k, float64(c.alpha), af[bt*sa:], lda, bf[bt*sb:], ldb, float64(c.beta), want[bt*sc:], ldc)
		}
	}
	p := kernels.GemmParams{TransA: c.ta, TransB: c.tb, M: c.m, N: c.n, K: c.k, Alpha: c.alpha, Beta: c.beta,
		A: h.in(av), B: h.in(bv), C: h.acc(cv), LDA: lda, LDB: ldb, LDC: ldc,
		Batch: c.batch, StrideA: sa, StrideB: sb, StrideC: sc}
	// Leave tight leading dimensions to Normalize half of the time.
	if c.padA == 0 && h.rng.IntN(2) == 0 {
		p.LDA = 0
	}
	if c.padB == 0 && h.rng.IntN(2) == 0 {
		p.LDB = 0
	}
	if c.padC == 0 && h.rng.IntN(2) == 0 {
		p.LDC = 0
	}
	if c.batch == 1 && h.rng.IntN(2) == 0 {
		p.Batch = 0
	}
	what := fmt.Sprintf("Gemm %+v", c)
	if err := h.b.Gemm(p); err != nil {
		h.t.Errorf("%s: %v", what, err)
		return
	}
	tol := TolReduce * math.Max(1, math.Sqrt(float64(c.k)/1024))
	h.checkScaled(what, h.get(p.C), want, tol, func() float64 {
		sw := abs(cv)
		aa, ba := abs(av), abs(bv)
		for bt := 0; bt < c.batch; bt++ {
			if c.m > 0 && c.n > 0 {
				Gemm(c.ta, c.tb, c.m, c.n, c.k, math.Abs(float64(c.alpha)), aa[bt*sa:], lda, ba[bt*sb:], ldb, math.Abs(float64(c.beta)), sw[bt*sc:], ldc)
			}
		}
		return norm(sw)
	})
}

func testGemm(h *harness) {
	shapes := [][3]int{{1, 1, 1}, {1, 7, 3}, {7, 1, 5}, {5, 3, 1}, {8, 8, 8}, {9, 17, 13}, {13, 31, 19},
		{16, 24, 32}, {33, 65, 31}, {64, 40, 96}, {6, 10, 129}, {4, 5, 0}, {0, 5, 3}, {5, 0, 3}}
	if !testing.Short() {
		shapes = append(shapes, [3]int{127, 129, 257}, [3]int{1, 1000, 1000}, [3]int{1000, 1, 700}, [3]int{100, 130, 520})
	}
	alphas := []float32{1, -0.75, 2}
	betas := []float32{0, 1, 0.5, -1}
	i := 0
	for _, s := range shapes {
		for tr := range 4 {
			i++
			c := gemmCase{ta: tr&1 != 0, tb: tr&2 != 0, m: s[0], n: s[1], k: s[2],
				alpha: alphas[i%len(alphas)], beta: betas[i%len(betas)], batch: 1}
			if i%3 == 0 {
				c.padA, c.padB, c.padC = h.rng.IntN(5), h.rng.IntN(5), h.rng.IntN(5)
			}
			h.runGemm(c)
			h.release()
		}
	}
	// Strided batches, including broadcast A or B (stride 0) and gaps.
	for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {9, 8, 17}, {16, 33, 10}} {
		for j, st := range [][3]int{{0, 0, 0}, {-1, 3, 1}, {2, -1, 0}, {1, 1, 5}} {
			c := gemmCase{ta: j&1 != 0, tb: j&2 != 0, m: s[0], n: s[1], k: s[2], alpha: 1.5, beta: betas[j],
				batch: 2 + j, strideA: st[0], strideB: st[1], gapC: st[2], padA: j, padC: 1}
			h.runGemm(c)
			h.release()
		}
	}
	// Batches of items too large to run one per thread by size alone (the
	// CPU backend runs them one per thread when there are at least two
	// per thread): 40×70×800 is 2.24 M multiply-adds an item.
	if !testing.Short() {
		for j, batch := range []int{4, 6} {
			c := gemmCase{ta: j == 1, tb: j == 0, m: 40, n: 70, k: 800, alpha: 1, beta: betas[j+1],
				batch: batch, strideA: 3, strideB: -1, gapC: 2, padC: 2}
			h.runGemm(c)
			h.release()
		}
	}
	// Beta = 0 must not read C: poison stays out of the result even with
	// K = 0.
	h.runGemm(gemmCase{m: 3, n: 4, k: 0, alpha: 1, beta: 0, batch: 1})

	b := h.b
	x := h.in(h.randn(16, 1))
	good := kernels.GemmParams{M: 4, N: 4, K: 4, Alpha: 1, A: x, B: x, C: h.out(16)}
	errCase := func(what string, want error, mod func(p *kernels.GemmParams)) {
		p := good
		mod(&p)
		h.wantErr("Gemm "+what, want, func() error { return b.Gemm(p) })
	}
	errCase("C too short", kernels.ErrShape, func(p *kernels.GemmParams) { p.C = h.out(15) })
	errCase("A too short", kernels.ErrShape, func(p *kernels.GemmParams) { p.A = h.in(h.randn(15, 1)) })
	errCase("B too short for ldb", kernels.ErrShape, func(p *kernels.GemmParams) { p.LDB = 5 })
	errCase("lda < k", kernels.ErrShape, func(p *kernels.GemmParams) { p.LDA = 3 })
	errCase("ldc < n", kernels.ErrShape, func(p *kernels.GemmParams) { p.LDC = 3 })
	errCase("negative m", kernels.ErrShape, func(p *kernels.GemmParams) { p.M = -1 })
	errCase("nil C", kernels.ErrShape, func(p *kernels.GemmParams) { p.C = nil })
	errCase("batch with StrideC 0", kernels.ErrShape, func(p *kernels.GemmParams) { p.Batch, p.C = 2, h.out(32) })
	errCase("batch too long for C", kernels.ErrShape, func(p *kernels.GemmParams) {
		p.Batch, p.StrideC, p.C = 2, 16, h.out(31)
	})
	errCase("Int32 A", kernels.ErrDType, func(p *kernels.GemmParams) { p.A = h.ints(make([]int32, 16)) })
	errCase("foreign B", kernels.ErrBackend, func(p *kernels.GemmParams) { p.B = h.foreign(kernels.Float32, 16) })
	errCase("foreign C", kernels.ErrBackend, func(p *kernels.GemmParams) { p.C = h.foreign(kernels.Float32, 16) })
}

func testBinary(h *harness) {
	b := h.b
	for _, op := range []kernels.BinaryOp{kernels.Add, kernels.Sub, kernels.Mul} {
		for _, n := range lengths() {
			av, bv := h.randn(n, 1), h.randn(n, 2)
			want := Binary(op, F64(av), F64(bv))
			what := fmt.Sprintf("Binary %v n=%d", op, n)
			scale := func() float64 { return norm(Binary(kernels.Add, abs(av), abs(bv))) }
			dst := h.out(n)
			h.must(b.Binary(op, dst, h.in(av), h.in(bv)))
			h.checkScaled(what, h.get(dst), want, TolElem, scale)
			// dst aliasing a, then b, then both.
			a := h.acc(av)
			h.must(b.Binary(op, a, a, h.in(bv)))
			h.checkScaled(what+" dst=a", h.get(a), want, TolElem, scale)
			c := h.acc(bv)
			h.must(b.Binary(op, c, h.in(av), c))
			h.checkScaled(what+" dst=b", h.get(c), want, TolElem, scale)
			d := h.acc(av)
			h.must(b.Binary(op, d, d, d))
			h.check(what+" dst=a=b", h.get(d), Binary(op, F64(av), F64(av)), TolElem)
			h.release()
		}
	}
	x := h.in(h.randn(8, 1))
	h.wantErr("Binary with a short b", kernels.ErrShape, func() error { return b.Binary(kernels.Add, h.out(8), x, h.in(h.randn(7, 1))) })
	h.wantErr("Binary with a long dst", kernels.ErrShape, func() error { return b.Binary(kernels.Mul, h.out(9), x, x) })
	h.wantErr("Binary on Int32", kernels.ErrDType, func() error { return b.Binary(kernels.Add, h.out(8), x, h.ints(make([]int32, 8))) })
	h.wantErr("Binary with a foreign a", kernels.ErrBackend, func() error {
		return b.Binary(kernels.Sub, h.out(8), h.foreign(kernels.Float32, 8), x)
	})
	h.wantErr("Binary with an unknown op", nil, func() error { return b.Binary(kernels.BinaryOp(99), h.out(8), x, x) })
}

func testAxpby(h *harness) {
	b := h.b
	coefs := [][2]float32{{1, 0}, {-0.5, 0}, {2, 1}, {0.3, -0.7}, {0, 0.5}, {1, 1}}
	for _, n := range lengths() {
		for _, ab := range coefs {
			x := h.randn(n, 1)
			var d []float32
			if ab[1] == 0 {
				d = h.poisoned(n) // beta = 0: dst is not read
			} else {
				d = h.randn(n, 1)
			}
			want := F64(d)
			Axpby(want, float64(ab[0]), F64(x), float64(ab[1]))
			dst := h.acc(d)
			h.must(b.Axpby(dst, ab[0], h.in(x), ab[1]))
			h.checkScaled(fmt.Sprintf("Axpby n=%d alpha=%v beta=%v", n, ab[0], ab[1]), h.get(dst), want, TolElem, func() float64 {
				sw := abs(d)
				Axpby(sw, math.Abs(float64(ab[0])), abs(x), math.Abs(float64(ab[1])))
				return norm(sw)
			})
		}
		h.release()
	}
	// dst aliasing x: dst = (alpha+beta)·dst.
	xv := h.randn(37, 1)
	x := h.acc(xv)
	h.must(b.Axpby(x, 2, x, 0.5))
	want := F64(xv)
	Scale(want, 2.5)
	h.check("Axpby dst=x", h.get(x), want, TolElem)
	h.wantErr("Axpby with a short x", kernels.ErrShape, func() error { return b.Axpby(h.out(8), 1, h.in(h.randn(7, 1)), 0) })
	h.wantErr("Axpby on Int32", kernels.ErrDType, func() error { return b.Axpby(h.ints(make([]int32, 8)), 1, h.in(h.randn(8, 1)), 0) })
	h.wantErr("Axpby with a foreign x", kernels.ErrBackend, func() error { return b.Axpby(h.out(8), 1, h.foreign(kernels.Float32, 8), 0) })
}

func testScale(h *harness) {
	b := h.b
	for _, n := range lengths() {
		for _, a := range []float32{0, 1, -3.5, 1e-3} {
			x := h.randn(n, 1)
			want := F64(x)
			Scale(want, float64(a))
			d := h.acc(x)
			h.must(b.Scale(d, a))
			h.check(fmt.Sprintf("Scale n=%d alpha=%v", n, a), h.get(d), want, TolElem)
		}
		h.release()
	}
	h.wantErr("Scale of Int32", kernels.ErrDType, func() error { return b.Scale(h.ints(make([]int32, 3)), 2) })
	h.wantErr("Scale of nil", kernels.ErrShape, func() error { return b.Scale(nil, 2) })
	h.wantErr("Scale of a foreign buffer", kernels.ErrBackend, func() error { return b.Scale(h.foreign(kernels.Float32, 3), 2) })
}

// matShapes are rows×cols shapes of row-wise operations.
func matShapes() [][2]int {
	s := [][2]int{{1, 1}, {1, 9}, {3, 1}, {2, 7}, {4, 8}, {5, 16}, {3, 17}, {7, 31}, {2, 33}, {6, 100}, {3, 512}, {2, 1031}}
	if !testing.Short() {
		s = append(s, [2]int{64, 768}, [2]int{3, 32128})
	}
	return s
}

func testAddBias(h *harness) {
	b := h.b
	for _, s := range matShapes() {
		r, c := s[0], s[1]
		xv, bias := h.randn(r*c, 1), h.randn(c, 1)
		want := F64(xv)
		AddBias(want, F64(bias), r, c)
		x := h.acc(xv)
		h.must(b.AddBias(x, h.in(bias), r, c))
		h.checkScaled(fmt.Sprintf("AddBias %dx%d", r, c), h.get(x), want, TolElem, func() float64 {
			sw := abs(xv)
			AddBias(sw, abs(bias), r, c)
			return norm(sw)
		})
		h.release()
	}
	h.wantErr("AddBias with a short bias", kernels.ErrShape, func() error { return b.AddBias(h.out(12), h.in(h.randn(3, 1)), 3, 4) })
	h.wantErr("AddBias with a short x", kernels.ErrShape, func() error { return b.AddBias(h.out(11), h.in(h.randn(4, 1)), 3, 4) })
	h.wantErr("AddBias on Int32", kernels.ErrDType, func() error { return b.AddBias(h.ints(make([]int32, 12)), h.in(h.randn(4, 1)), 3, 4) })
	h.wantErr("AddBias with a foreign bias", kernels.ErrBackend, func() error {
		return b.AddBias(h.out(12), h.foreign(kernels.Float32, 4), 3, 4)
	})
}

func testSumRows(h *harness) {
	b := h.b
	for _, s := range matShapes() {
		r, c := s[0], s[1]
		for _, beta := range []float32{0, 1, 0.5} {
			x := h.randn(r*c, 1)
			d := h.randn(c, 1)
			if beta == 0 {
				d = h.poisoned(c)
			}
			want := F64(d)
			SumRows(want, F64(x), r, c, float64(beta))
			dst := h.acc(d)
			h.must(b.SumRows(dst, h.in(x), r, c, beta))
			h.checkScaled(fmt.Sprintf("SumRows %dx%d beta=%v", r, c, beta), h.get(dst), want, tolSum(r), func() float64 {
				sw := abs(d)
				SumRows(sw, abs(x), r, c, float64(beta))
				return norm(sw)
			})
		}
		h.release()
	}
	// Many rows, few columns: a long reduction per column.
	x := h.randn(5000*3, 1)
	want := make([]float64, 3)
	SumRows(want, F64(x), 5000, 3, 0)
	dst := h.out(3)
	h.must(b.SumRows(dst, h.in(x), 5000, 3, 0))
	h.checkScaled("SumRows 5000x3", h.get(dst), want, tolSum(5000), func() float64 {
		sw := make([]float64, 3)
		SumRows(sw, abs(x), 5000, 3, 0)
		return norm(sw)
	})

	h.wantErr("SumRows with a short dst", kernels.ErrShape, func() error { return b.SumRows(h.out(3), h.in(h.randn(12, 1)), 3, 4, 0) })
	h.wantErr("SumRows with a short x", kernels.ErrShape, func() error { return b.SumRows(h.out(4), h.in(h.randn(11, 1)), 3, 4, 0) })
	h.wantErr("SumRows on Int32", kernels.ErrDType, func() error { return b.SumRows(h.out(4), h.ints(make([]int32, 12)), 3, 4, 0) })
	h.wantErr("SumRows with a foreign x", kernels.ErrBackend, func() error {
		return b.SumRows(h.out(4), h.foreign(kernels.Float32, 12), 3, 4, 0)
	})
}

func testSumSquares(h *harness) {
	b := h.b
	for _, n := range lengths() {
		x := h.randn(n, 1.5)
		for _, dl := range []int{1, 3} {
			d := h.randn(dl, 1)
			want := F64(d)
			want[0] += SumSquares(F64(x))
			dst := h.acc(d)
			h.must(b.SumSquares(dst, h.in(x)))
			got := h.get(dst)
			h.checkScaled(fmt.Sprintf("SumSquares n=%d", n), got[:1], want[:1], tolSum(n), func() float64 {
				return math.Abs(float64(d[0])) + SumSquares(F64(x))
			})
			h.exact(fmt.Sprintf("SumSquares n=%d: dst[1:]", n), got[1:], want[1:])
		}
		h.release()
	}
	// Accumulating several gradients into one dst.
	d := h.acc([]float32{0})
	var want float64
	for _, n := range []int{5, 17, 300} {
		x := h.randn(n, 1)
		want += SumSquares(F64(x))
		h.must(b.SumSquares(d, h.in(x)))
	}
	h.check("SumSquares accumulated", h.get(d), []float64{want}, TolReduce)
	h.wantErr("SumSquares into an empty dst", kernels.ErrShape, func() error { return b.SumSquares(h.out(0), h.in(h.randn(4, 1))) })
	h.wantErr("SumSquares of Int32", kernels.ErrDType, func() error { return b.SumSquares(h.out(1), h.ints(make([]int32, 4))) })
	h.wantErr("SumSquares of a foreign x", kernels.ErrBackend, func() error { return b.SumSquares(h.out(1), h.foreign(kernels.Float32, 4)) })
}

var activations = []kernels.Activation{kernels.ReLU, kernels.GeLUNew, kernels.GeLU, kernels.SiLU, kernels.Tanh, kernels.Sigmoid}

func actTol(f kernels.Activation) float64 {
	if f == kernels.ReLU {
		return TolElem
	}
	return TolTransc
}

// actInput returns n inputs: normal of scale 3, with exact zeros and a few
// large magnitudes (saturation) mixed in.
func (h *harness) actInput(n int) []float32 {
	x := h.randn(n, 3)
	special := []float32{0, 0, 20, -20, 90, -90, 1e-4, -1e-4, 0.5, -0.75}
	for i := range x {
		if h.rng.IntN(8) == 0 {
			x[i] = special[h.rng.IntN(len(special))]
		}
	}
	return x
}

func testAct(h *harness) {
	b := h.b
	for _, f := range activations {
		for _, n := range lengths() {
			x := h.actInput(n)
			want := Act(f, F64(x))
			what := fmt.Sprintf("Act %v n=%d", f, n)
			dst := h.out(n)
			h.must(b.Act(f, dst, h.in(x)))
			// Rounding is relative to max(|x|, 1): GELU of a negative x
			// cancels in 1 + erf.
			scale := func() float64 {
				var s float64
				for _, v := range x {
					s += max(float64(v)*float64(v), 1)
				}
				return math.Sqrt(s)
			}
			h.checkScaled(what, h.get(dst), want, actTol(f), scale)
			d := h.acc(x)
			h.must(b.Act(f, d, d))
			h.checkScaled(what+" dst=x", h.get(d), want, actTol(f), scale)
			h.release()
		}
	}
	x := h.in(h.randn(5, 1))
	h.wantErr("Act with a short dst", kernels.ErrShape, func() error { return b.Act(kernels.ReLU, h.out(4), x) })
	h.wantErr("Act on Int32", kernels.ErrDType, func() error { return b.Act(kernels.Tanh, h.out(5), h.ints(make([]int32, 5))) })
	h.wantErr("Act with a foreign dst", kernels.ErrBackend, func() error { return b.Act(kernels.GeLU, h.foreign(kernels.Float32, 5), x) })
	h.wantErr("Act with an unknown activation", nil, func() error { return b.Act(kernels.Activation(99), h.out(5), x) })
}

func testActBackward(h *harness) {
	b := h.b
	for _, f := range activations {
		for _, n := range lengths() {
			x, dy := h.actInput(n), h.randn(n, 1)
			want := ActBackward(f, F64(dy), F64(x))
			what := fmt.Sprintf("ActBackward %v n=%d", f, n)
			dx := h.out(n)
			h.must(b.ActBackward(f, dx, h.in(dy), h.in(x)))
			got := h.get(dx)
			// Derivatives are O(1) and may cancel (GELU' near −0.75):
			// rounding is relative to |dy|.
			scale := func() float64 { return norm(F64(dy)) }
			h.checkScaled(what, got, want, actTol(f), scale)
			if f == kernels.ReLU {
				for i, v := range x {
					if v == 0 && got[i] != 0 {
						h.t.Errorf("%s: ReLU'(0) gave dx %v, want 0", what, got[i])
						break
					}
				}
			}
			d := h.acc(dy)
			h.must(b.ActBackward(f, d, d, h.in(x)))
			h.checkScaled(what+" dx=dy", h.get(d), want, actTol(f), scale)
			h.release()
		}
	}
	x := h.in(h.randn(5, 1))
	h.wantErr("ActBackward with a short x", kernels.ErrShape, func() error {
		return b.ActBackward(kernels.ReLU, h.out(5), x, h.in(h.randn(4, 1)))
	})
	h.wantErr("ActBackward on Int32", kernels.ErrDType, func() error {
		return b.ActBackward(kernels.SiLU, h.out(5), h.ints(make([]int32, 5)), x)
	})
	h.wantErr("ActBackward with a foreign x", kernels.ErrBackend, func() error {
		return b.ActBackward(kernels.GeLUNew, h.out(5), x, h.foreign(kernels.Float32, 5))
	})
	h.wantErr("ActBackward with an unknown activation", nil, func() error { return b.ActBackward(kernels.Activation(0), h.out(5), x, x) })
}

func testRMSNorm(h *harness) {
	b := h.b
	for _, s := range matShapes() {
		r, c := s[0], s[1]
		for _, eps := range []float32{1e-6, 0.5} {
			x, w := h.randn(r*c, 2), h.randn(c, 1)
			wy, wr := RMSNorm(F64(x), F64(w), r, c, float64(eps))
			p := kernels.RMSNormParams{Rows: r, Cols: c, Eps: eps, X: h.in(x), W: h.in(w), Y: h.out(r * c), RStd: h.out(r)}
			what := fmt.Sprintf("RMSNorm %dx%d eps=%v", r, c, eps)
			h.must(b.RMSNorm(p))
			h.check(what+" Y", h.get(p.Y), wy, tolSum(c))
			h.check(what+" RStd", h.get(p.RStd), wr, tolSum(c))
		}
		h.release()
	}
	// A zero row gives rstd = 1/√eps and y = 0.
	zero := kernels.RMSNormParams{Rows: 2, Cols: 3, Eps: 0.25, X: h.in(make([]float32, 6)), W: h.in([]float32{1, 2, 3}), Y: h.out(6), RStd: h.out(2)}
	h.must(b.RMSNorm(zero))
	h.check("RMSNorm of zeros Y", h.get(zero.Y), make([]float64, 6), 0)
	h.check("RMSNorm of zeros RStd", h.get(zero.RStd), []float64{2, 2}, TolElem)

	good := kernels.RMSNormParams{Rows: 3, Cols: 4, Eps: 1e-6, X: h.in(h.randn(12, 1)), W: h.in(h.randn(4, 1)), Y: h.out(12), RStd: h.out(3)}
	errCase := func(what string, want error, mod func(p *kernels.RMSNormParams)) {
		p := good
		mod(&p)
		h.wantErr("RMSNorm "+what, want, func() error { return b.RMSNorm(p) })
	}
	errCase("short W", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.W = h.in(h.randn(3, 1)) })
	errCase("short Y", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.Y = h.out(11) })
	errCase("long RStd", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.RStd = h.out(4) })
	errCase("nil RStd", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.RStd = nil })
	errCase("zero cols", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.Cols = 0 })
	errCase("Int32 X", kernels.ErrDType, func(p *kernels.RMSNormParams) { p.X = h.ints(make([]int32, 12)) })
	errCase("foreign W", kernels.ErrBackend, func(p *kernels.RMSNormParams) { p.W = h.foreign(kernels.Float32, 4) })
}

func testRMSNormBackward(h *harness) {
	b := h.b
	for _, s := range matShapes() {
		r, c := s[0], s[1]
		for _, withDW := range []bool{true, false} {
			x, w, dy := h.randn(r*c, 2), h.randn(c, 1), h.randn(r*c, 1)
			_, rstd := RMSNorm(F64(x), F64(w), r, c, 1e-6)
			rs := F32(rstd)
			p := kernels.RMSNormParams{Rows: r, Cols: c, Eps: 1e-6, X: h.in(x), W: h.in(w), RStd: h.in(rs), DY: h.in(dy), DX: h.out(r * c)}
			var dw0 []float32
			var wdw []float64
			if withDW {
				dw0 = h.randn(c, 1)
				wdw = F64(dw0)
				p.DW = h.acc(dw0)
			}
			wdx := RMSNormBackward(F64(x), F64(w), F64(rs), F64(dy), r, c, wdw)
			what := fmt.Sprintf("RMSNormBackward %dx%d", r, c)
			h.must(b.RMSNormBackward(p))
			// DX cancels (exactly so for one column): measure its error
			// against the size of its first term, rstd·w·dy.
			var scale float64
			for i := range dy {
				scale += math.Pow(rstd[i/c]*float64(w[i%c])*float64(dy[i]), 2)
			}
			h.checkScaled(what+" DX", h.get(p.DX), wdx, tolSum(c), func() float64 { return math.Sqrt(scale) })
			if withDW {
				h.checkScaled(what+" DW", h.get(p.DW), wdw, tolSum(r), func() float64 {
					sw := abs(dw0)
					RMSNormBackward(abs(x), abs(w), rstd, abs(dy), r, c, sw)
					return norm(sw)
				})
			}
		}
		h.release()
	}
	good := kernels.RMSNormParams{Rows: 3, Cols: 4, X: h.in(h.randn(12, 1)), W: h.in(h.randn(4, 1)), RStd: h.in(h.randu(3, 0.5, 1)),
		DY: h.in(h.randn(12, 1)), DX: h.out(12), DW: h.out(4)}
	errCase := func(what string, want error, mod func(p *kernels.RMSNormParams)) {
		p := good
		mod(&p)
		h.wantErr("RMSNormBackward "+what, want, func() error { return b.RMSNormBackward(p) })
	}
	errCase("short DY", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.DY = h.in(h.randn(11, 1)) })
	errCase("nil DX", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.DX = nil })
	errCase("long DW", kernels.ErrShape, func(p *kernels.RMSNormParams) { p.DW = h.out(5) })
	errCase("Int32 DY", kernels.ErrDType, func(p *kernels.RMSNormParams) { p.DY = h.ints(make([]int32, 12)) })
	errCase("foreign DX", kernels.ErrBackend, func(p *kernels.RMSNormParams) { p.DX = h.foreign(kernels.Float32, 12) })
}

// softmaxCase is one Softmax test.
type softmaxCase struct {
	b, hd, r, c int
	causal      bool
	pad, bias   bool    // a padding mask [B, C] (with −∞ and −1e9), a position bias [H, R, C]
	maskRow     bool    // a per-row mask [R, C] with whole rows of −∞ (all-excluded rows)
	scale       float64 // of the scores
	alias       bool    // Y = X
}

func (h *harness) runSoftmax(sc softmaxCase) {
	h.t.Helper()
	n := sc.b * sc.hd * sc.r * sc.c
	x := h.randn(n, sc.scale)
	var masks []kernels.AdditiveMask
	var hmasks []Mask
	add := func(m []float32, sb, sh, sr int) {
		masks = append(masks, kernels.AdditiveMask{M: h.in(m), StrideBatch: sb, StrideHead: sh, StrideRow: sr})
		hmasks = append(hmasks, Mask{M: F64(m), StrideBatch: sb, StrideHead: sh, StrideRow: sr})
	}
	if sc.pad {
		m := make([]float32, sc.b*sc.c)
		for i := range m {
			if i%sc.c == 0 {
				continue // column 0 stays: no row is all −1e9
			}
			switch h.rng.IntN(5) {
			case 0:
				m[i] = float32(math.Inf(-1))
			case 1:
				m[i] = -1e9
			}
		}
		add(m, sc.c, 0, 0)
	}
	if sc.bias {
		add(h.randn(sc.hd*sc.r*sc.c, 2), 0, sc.r*sc.c, sc.c)
	}
	if sc.maskRow {
		m := h.randn(sc.r*sc.c, 0.5)
		for r := 0; r < sc.r; r += 2 {
			for c := 0; c < sc.c; c++ {
				m[r*sc.c+c] = float32(math.Inf(-1))
			}
		}
		add(m, 0, 0, sc.c)
	}
	want := Softmax(F64(x), sc.b, sc.hd, sc.r, sc.c, hmasks, sc.causal)
	p := kernels.SoftmaxParams{Batch: sc.b, Heads: sc.hd, Rows: sc.r, Cols: sc.c, Masks: masks, Causal: sc.causal}
	if sc.alias {
		p.X = h.acc(x)
		p.Y = p.X
	} else {
		p.X, p.Y = h.in(x), h.out(n)
	}
	what := fmt.Sprintf("Softmax %+v", sc)
	if err := h.b.Softmax(p); err != nil {
		h.t.Errorf("%s: %v", what, err)
		return
	}
	got := h.get(p.Y)
	h.check(what, got, want, tolSum(sc.c))
	// Excluded elements (causal, −∞ masks) are exactly 0.
	for b := 0; b < sc.b; b++ {
		for hd := 0; hd < sc.hd; hd++ {
			for r := 0; r < sc.r; r++ {
				for c := 0; c < sc.c; c++ {
					excl := sc.causal && c > r+sc.c-sc.r
					for _, m := range hmasks {
						excl = excl || math.IsInf(m.M[b*m.StrideBatch+hd*m.StrideHead+r*m.StrideRow+c], -1)
					}
					if i := ((b*sc.hd+hd)*sc.r+r)*sc.c + c; excl && got[i] != 0 {
						h.t.Errorf("%s: excluded element (%d, %d, %d, %d) has probability %v, want exactly 0", what, b, hd, r, c, got[i])
						return
					}
				}
			}
		}
	}
}

func testSoftmax(h *harness) {
	cases := []softmaxCase{
		{b: 1, hd: 1, r: 1, c: 1, scale: 1},
		{b: 1, hd: 1, r: 3, c: 1, scale: 1},
		{b: 2, hd: 3, r: 5, c: 7, scale: 1},
		{b: 2, hd: 3, r: 5, c: 7, scale: 1, pad: true, bias: true},
		{b: 1, hd: 2, r: 4, c: 9, scale: 2, causal: true},
		{b: 2, hd: 2, r: 9, c: 9, scale: 1, causal: true, pad: true},
		{b: 1, hd: 1, r: 1, c: 13, scale: 1, causal: true, bias: true},
		{b: 3, hd: 2, r: 6, c: 17, scale: 1, maskRow: true, bias: true},
		{b: 2, hd: 4, r: 8, c: 16, scale: 1, pad: true, bias: true, alias: true},
		{b: 1, hd: 1, r: 4, c: 33, scale: 50}, // needs the max subtracted
		{b: 1, hd: 2, r: 3, c: 1000, scale: 3, causal: true, alias: true},
		{b: 2, hd: 1, r: 2, c: 1031, scale: 1, pad: true},
	}
	if !testing.Short() {
		cases = append(cases, softmaxCase{b: 2, hd: 12, r: 64, c: 64, scale: 1, pad: true, bias: true, causal: true},
			softmaxCase{b: 1, hd: 1, r: 7, c: 32128, scale: 5})
	}
	for _, sc := range cases {
		h.runSoftmax(sc)
		h.release()
	}
	b := h.b
	good := kernels.SoftmaxParams{Batch: 1, Heads: 2, Rows: 3, Cols: 4, X: h.in(h.randn(24, 1)), Y: h.out(24)}
	errCase := func(what string, want error, mod func(p *kernels.SoftmaxParams)) {
		p := good
		mod(&p)
		h.wantErr("Softmax "+what, want, func() error { return b.Softmax(p) })
	}
	errCase("short Y", kernels.ErrShape, func(p *kernels.SoftmaxParams) { p.Y = h.out(23) })
	errCase("causal with rows > cols", kernels.ErrShape, func(p *kernels.SoftmaxParams) {
		p.Rows, p.Cols, p.Causal = 4, 3, true
	})
	errCase("short mask", kernels.ErrShape, func(p *kernels.SoftmaxParams) {
		p.Masks = []kernels.AdditiveMask{{M: h.in(h.randn(11, 1)), StrideRow: 4}}
	})
	errCase("negative mask stride", kernels.ErrShape, func(p *kernels.SoftmaxParams) {
		p.Masks = []kernels.AdditiveMask{{M: h.in(h.randn(40, 1)), StrideRow: -4}}
	})
	errCase("zero cols", kernels.ErrShape, func(p *kernels.SoftmaxParams) { p.Cols = 0 })
	errCase("Int32 mask", kernels.ErrDType, func(p *kernels.SoftmaxParams) {
		p.Masks = []kernels.AdditiveMask{{M: h.ints(make([]int32, 4))}}
	})
	errCase("foreign mask", kernels.ErrBackend, func(p *kernels.SoftmaxParams) {
		p.Masks = []kernels.AdditiveMask{{M: h.foreign(kernels.Float32, 4)}}
	})
	errCase("foreign X", kernels.ErrBackend, func(p *kernels.SoftmaxParams) { p.X = h.foreign(kernels.Float32, 24) })
}

func testSoftmaxBackward(h *harness) {
	b := h.b
	for _, s := range matShapes() {
		r, c := s[0], s[1]
		yv := F32(Softmax(F64(h.randn(r*c, 2)), 1, 1, r, c, nil, false))
		dy := h.randn(r*c, 1)
		want := SoftmaxBackward(F64(dy), F64(yv), r, c)
		what := fmt.Sprintf("SoftmaxBackward %dx%d", r, c)
		dx := h.out(r * c)
		y := h.in(yv)
		h.must(b.SoftmaxBackward(dx, h.in(dy), y, r, c))
		// dx = y·(dy − Σ dy·y) cancels: rounding is relative to
		// y·(|dy| + |Σ dy·y|).
		scale := func() float64 {
			var s float64
			for row := 0; row < r; row++ {
				var dt float64
				for col := 0; col < c; col++ {
					dt += float64(dy[row*c+col]) * float64(yv[row*c+col])
				}
				for col := 0; col < c; col++ {
					i := row*c + col
					v := float64(yv[i]) * (math.Abs(float64(dy[i])) + math.Abs(dt))
					s += v * v
				}
			}
			return math.Sqrt(s)
		}
		h.checkScaled(what, h.get(dx), want, tolSum(c), scale)
		d := h.acc(dy)
		h.must(b.SoftmaxBackward(d, d, y, r, c))
		h.checkScaled(what+" dx=dy", h.get(d), want, tolSum(c), scale)
		h.release()
	}
	y := h.in(h.randn(12, 1))
	h.wantErr("SoftmaxBackward with a short y", kernels.ErrShape, func() error {
		return b.SoftmaxBackward(h.out(12), y, h.in(h.randn(11, 1)), 3, 4)
	})
	h.wantErr("SoftmaxBackward with a short dx", kernels.ErrShape, func() error { return b.SoftmaxBackward(h.out(11), y, y, 3, 4) })
	h.wantErr("SoftmaxBackward on Int32", kernels.ErrDType, func() error {
		return b.SoftmaxBackward(h.out(12), h.ints(make([]int32, 12)), y, 3, 4)
	})
	h.wantErr("SoftmaxBackward with a foreign y", kernels.ErrBackend, func() error {
		return b.SoftmaxBackward(h.out(12), y, h.foreign(kernels.Float32, 12), 3, 4)
	})
}

// embShapes are (table rows, dim, ids).
func embShapes() [][3]int {
	s := [][3]int{{1, 1, 1}, {1, 5, 3}, {7, 1, 9}, {10, 8, 4}, {13, 17, 31}, {100, 33, 64}, {50, 512, 7}}
	if !testing.Short() {
		s = append(s, [3]int{32128, 64, 300})
	}
	return s
}

func (h *harness) ids(n, rows int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(h.rng.IntN(rows))
	}
	if n > 2 {
		ids[n-1] = ids[0] // a repeated id
	}
	return ids
}

func testEmbedding(h *harness) {
	b := h.b
	for _, s := range embShapes() {
		rows, dim, n := s[0], s[1], s[2]
		table, ids := h.randn(rows*dim, 1), h.ids(n, rows)
		dst := h.out(n * dim)
		h.must(b.Embedding(dst, h.in(table), h.ints(ids), dim))
		h.exact(fmt.Sprintf("Embedding rows=%d dim=%d n=%d", rows, dim, n), h.get(dst), Embedding(F64(table), ids, dim))
		h.release()
	}
	table := h.in(h.randn(20, 1)) // 5 rows of 4
	h.wantErr("Embedding of id = rows", nil, func() error { return b.Embedding(h.out(8), table, h.ints([]int32{0, 5}), 4) })
	h.wantErr("Embedding of id -1", nil, func() error { return b.Embedding(h.out(8), table, h.ints([]int32{-1, 2}), 4) })
	h.wantErr("Embedding into a short dst", kernels.ErrShape, func() error { return b.Embedding(h.out(7), table, h.ints([]int32{0, 1}), 4) })
	h.wantErr("Embedding with Float32 ids", kernels.ErrDType, func() error { return b.Embedding(h.out(8), table, h.in([]float32{0, 1}), 4) })
	h.wantErr("Embedding with an Int32 table", kernels.ErrDType, func() error {
		return b.Embedding(h.out(8), h.ints(make([]int32, 20)), h.ints([]int32{0, 1}), 4)
	})
	h.wantErr("Embedding with foreign ids", kernels.ErrBackend, func() error {
		return b.Embedding(h.out(8), table, h.foreign(kernels.Int32, 2), 4)
	})
}

func testEmbeddingBackward(h *harness) {
	b := h.b
	for _, s := range embShapes() {
		rows, dim, n := s[0], s[1], s[2]
		for _, nd := range []int{n, 4 * n} { // 4n: many repeated ids
			ids := h.ids(nd, rows)
			d0, dout := h.randn(rows*dim, 1), h.randn(nd*dim, 1)
			want := F64(d0)
			EmbeddingBackward(want, F64(dout), ids, dim)
			dt := h.acc(d0)
			h.must(b.EmbeddingBackward(dt, h.in(dout), h.ints(ids), dim))
			h.checkScaled(fmt.Sprintf("EmbeddingBackward rows=%d dim=%d n=%d", rows, dim, nd), h.get(dt), want, TolElem, func() float64 {
				sw := abs(d0)
				EmbeddingBackward(sw, abs(dout), ids, dim)
				return norm(sw)
			})
		}
		h.release()
	}
	dt := h.out(20)
	h.wantErr("EmbeddingBackward of id = rows", nil, func() error {
		return b.EmbeddingBackward(dt, h.in(h.randn(8, 1)), h.ints([]int32{5, 0}), 4)
	})
	h.wantErr("EmbeddingBackward of id -1", nil, func() error {
		return b.EmbeddingBackward(dt, h.in(h.randn(8, 1)), h.ints([]int32{1, -1}), 4)
	})
	h.wantErr("EmbeddingBackward with a short dout", kernels.ErrShape, func() error {
		return b.EmbeddingBackward(dt, h.in(h.randn(7, 1)), h.ints([]int32{0, 1}), 4)
	})
	h.wantErr("EmbeddingBackward with Float32 ids", kernels.ErrDType, func() error {
		return b.EmbeddingBackward(dt, h.in(h.randn(8, 1)), h.in([]float32{0, 1}), 4)
	})
	h.wantErr("EmbeddingBackward into a foreign table", kernels.ErrBackend, func() error {
		return b.EmbeddingBackward(h.foreign(kernels.Float32, 20), h.in(h.randn(8, 1)), h.ints([]int32{0, 1}), 4)
	})
}

func testCrossEntropy(h *harness) {
	b := h.b
	shapes := [][2]int{{1, 1}, {1, 2}, {5, 7}, {8, 8}, {3, 17}, {9, 100}, {4, 1031}}
	if !testing.Short() {
		shapes = append(shapes, [2]int{16, 32128})
	}
	const ignore = -100
	for _, s := range shapes {
		rows, vocab := s[0], s[1]
		for mode := range 3 { // 0: no DLogits, 1: DLogits, 2: DLogits = Logits
			scale := []float64{1, 3, 30}[mode]
			logits := h.randn(rows*vocab, scale)
			labels := make([]int32, rows)
			counted := 0
			for i := range labels {
				if i%3 == 1 {
					labels[i] = ignore
				} else {
					labels[i] = int32(h.rng.IntN(vocab))
					counted++
				}
			}
			gs := float32(1 / float64(max(counted, 1)))
			wl, wd := CrossEntropy(F64(logits), labels, rows, vocab, ignore, float64(gs))
			p := kernels.CrossEntropyParams{Labels: h.ints(labels), Loss: h.out(rows), Rows: rows, Vocab: vocab, IgnoreIndex: ignore, GradScale: gs}
			switch mode {
			case 0:
				p.Logits = h.in(logits)
			case 1:
				p.Logits, p.DLogits = h.in(logits), h.out(rows*vocab)
			case 2:
				p.Logits = h.acc(logits)
				p.DLogits = p.Logits
			}
			what := fmt.Sprintf("CrossEntropy %dx%d mode=%d", rows, vocab, mode)
			h.must(b.CrossEntropy(p))
			loss := h.get(p.Loss)
			// The loss logsumexp − logit cancels for confident rows, the
			// gradient softmax − 1 for the label: rounding is relative to
			// the terms.
			h.checkScaled(what+" Loss", loss, wl, tolSum(vocab), func() float64 {
				var s float64
				for r, lab := range labels {
					if lab != ignore {
						xl := float64(logits[r*vocab+int(lab)])
						s += math.Pow(math.Abs(wl[r]+xl)+math.Abs(xl), 2)
					}
				}
				return math.Sqrt(s)
			})
			var dl []float32
			if mode > 0 {
				dl = h.get(p.DLogits)
				h.checkScaled(what+" DLogits", dl, wd, tolSum(vocab), func() float64 { return float64(gs) * math.Sqrt(float64(counted)) })
			}
			for r, lab := range labels {
				if lab != ignore {
					continue
				}
				if loss[r] != 0 {
					h.t.Errorf("%s: ignored row %d has loss %v, want exactly 0", what, r, loss[r])
				}
				for c := 0; mode > 0 && c < vocab; c++ {
					if dl[r*vocab+c] != 0 {
						h.t.Errorf("%s: ignored row %d has gradient %v, want exactly 0", what, r, dl[r*vocab+c])
						break
					}
				}
			}
		}
		h.release()
	}
	good := kernels.CrossEntropyParams{Logits: h.in(h.randn(12, 1)), Labels: h.ints([]int32{0, 3, -100}), Loss: h.out(3),
		DLogits: h.out(12), Rows: 3, Vocab: 4, IgnoreIndex: -100, GradScale: 0.5}
	errCase := func(what string, want error, mod func(p *kernels.CrossEntropyParams)) {
		p := good
		mod(&p)
		h.wantErr("CrossEntropy "+what, want, func() error { return b.CrossEntropy(p) })
	}
	errCase("label = vocab", nil, func(p *kernels.CrossEntropyParams) { p.Labels = h.ints([]int32{0, 4, 1}) })
	errCase("label -1", nil, func(p *kernels.CrossEntropyParams) { p.Labels = h.ints([]int32{-1, 0, 1}) })
	errCase("short Loss", kernels.ErrShape, func(p *kernels.CrossEntropyParams) { p.Loss = h.out(2) })
	errCase("short DLogits", kernels.ErrShape, func(p *kernels.CrossEntropyParams) { p.DLogits = h.out(11) })
	errCase("zero vocab", kernels.ErrShape, func(p *kernels.CrossEntropyParams) { p.Vocab = 0 })
	errCase("Float32 labels", kernels.ErrDType, func(p *kernels.CrossEntropyParams) { p.Labels = h.in(make([]float32, 3)) })
	errCase("foreign Logits", kernels.ErrBackend, func(p *kernels.CrossEntropyParams) { p.Logits = h.foreign(kernels.Float32, 12) })
}

func testAdamW(h *harness) {
	b := h.b
	type hp struct {
		lr, b1, b2, eps, wd float32
		step                int
	}
	hps := []hp{
		{1e-3, 0.9, 0.999, 1e-8, 0.01, 1},
		{1e-2, 0.9, 0.999, 1e-8, 0, 2},
		{3e-2, 0.8, 0.99, 1e-6, 0.1, 10},
		{1e-1, 0, 0.5, 1e-3, 0.5, 1000},
	}
	for _, n := range lengths() {
		for _, q := range hps {
			param, grad := h.randn(n, 1), h.randn(n, 0.1)
			m, v := h.randn(n, 0.05), h.randu(n, 0, 0.01)
			if q.step == 1 { // the first step starts from zero moments
				m, v = make([]float32, n), make([]float32, n)
			}
			grad[0], m[0], v[0] = 0, 0, 0 // eps alone in the denominator
			wp, wm, wv := F64(param), F64(m), F64(v)
			AdamW(wp, F64(grad), wm, wv, float64(q.lr), float64(q.b1), float64(q.b2), float64(q.eps), float64(q.wd), q.step)
			p := kernels.AdamWParams{Param: h.acc(param), Grad: h.in(grad), M: h.acc(m), V: h.acc(v),
				LR: q.lr, Beta1: q.b1, Beta2: q.b2, Eps: q.eps, WeightDecay: q.wd, Step: q.step}
			what := fmt.Sprintf("AdamW n=%d %+v", n, q)
			h.must(b.AdamW(p))
			h.check(what+" Param", h.get(p.Param), wp, TolElem)
			h.checkScaled(what+" M", h.get(p.M), wm, TolElem, func() float64 {
				sw := abs(m)
				Axpby(sw, 1-float64(q.b1), abs(grad), float64(q.b1))
				return norm(sw)
			})
			h.check(what+" V", h.get(p.V), wv, TolElem)
			// The step itself (param change) to a looser tolerance: it is a
			// difference of nearby float32 numbers.
			dp, dw := h.get(p.Param), make([]float64, n)
			for i := range dp {
				dp[i] -= param[i]
				dw[i] = wp[i] - float64(param[i])
			}
			h.checkScaled(what+" Param step", dp, dw, 1e-3, func() float64 { return float64(q.lr) * math.Sqrt(float64(n)) })

			// With SumSquares: the same update, and the sum of squares
			// the SumSquares op gives (the same bits, onto what dst held).
			sq, sqOp := h.acc([]float32{0.25}), h.acc([]float32{0.25})
			f := kernels.AdamWParams{Param: h.acc(param), Grad: h.in(grad), M: h.acc(m), V: h.acc(v),
				LR: q.lr, Beta1: q.b1, Beta2: q.b2, Eps: q.eps, WeightDecay: q.wd, Step: q.step, SumSquares: sq}
			h.must(b.AdamW(f))
			h.must(b.SumSquares(sqOp, h.in(grad)))
			h.exact(what+" with SumSquares: Param", h.get(f.Param), F64(h.get(p.Param)))
			h.exact(what+" with SumSquares: M", h.get(f.M), F64(h.get(p.M)))
			h.exact(what+" with SumSquares: V", h.get(f.V), F64(h.get(p.V)))
			h.exact(what+" with SumSquares: the sum", h.get(sq), F64(h.get(sqOp)))
		}
		h.release()
	}
	x := h.randn(6, 1)
	good := kernels.AdamWParams{Param: h.acc(x), Grad: h.in(x), M: h.out(6), V: h.out(6), LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	errCase := func(what string, want error, mod func(p *kernels.AdamWParams)) {
		p := good
		mod(&p)
		h.wantErr("AdamW "+what, want, func() error { return b.AdamW(p) })
	}
	errCase("step 0", kernels.ErrShape, func(p *kernels.AdamWParams) { p.Step = 0 })
	errCase("SumSquares of 0 elements", kernels.ErrShape, func(p *kernels.AdamWParams) { p.SumSquares = h.out(0) })
	errCase("beta1 = 1", kernels.ErrShape, func(p *kernels.AdamWParams) { p.Beta1 = 1 })
	errCase("short Grad", kernels.ErrShape, func(p *kernels.AdamWParams) { p.Grad = h.in(x[:5]) })
	errCase("long V", kernels.ErrShape, func(p *kernels.AdamWParams) { p.V = h.out(7) })
	errCase("Int32 M", kernels.ErrDType, func(p *kernels.AdamWParams) { p.M = h.ints(make([]int32, 6)) })
	errCase("foreign V", kernels.ErrBackend, func(p *kernels.AdamWParams) { p.V = h.foreign(kernels.Float32, 6) })
}

func testDropout(h *harness) {
	b := h.b
	for _, n := range lengths() {
		for _, p := range []float32{0, 0.1, 0.5, 0.9} {
			seed, off := h.rng.Uint64(), uint64(h.rng.IntN(1<<20))
			src := h.randn(n, 1)
			for i := range src {
				if src[i] == 0 {
					src[i] = 1
				}
			}
			want := Dropout(F64(src), p, seed, off)
			dst := h.out(n)
			h.must(b.Dropout(dst, h.in(src), p, seed, off))
			got := h.get(dst)
			what := fmt.Sprintf("Dropout n=%d p=%v", n, p)
			if p == 0 {
				h.exact(what, got, F64(src))
				continue
			}
			h.check(what, got, want, TolElem)
			dropped := 0
			for i := range got {
				if kept := kernels.DropoutKeep(seed, off+uint64(i), p); kept != (got[i] != 0) {
					h.t.Errorf("%s: element %d: kept=%v by DropoutKeep, value %v", what, i, kept, got[i])
					break
				}
				if got[i] == 0 {
					dropped++
				}
			}
			if n >= 4000 { // rate ≈ p within 5 standard deviations
				sd := math.Sqrt(float64(p) * (1 - float64(p)) / float64(n))
				if rate := float64(dropped) / float64(n); math.Abs(rate-float64(p)) > 5*sd {
					h.t.Errorf("%s: dropped a fraction %.4f, want %.4f ± %.4f", what, rate, p, 5*sd)
				}
			}
		}
		h.release()
	}
	// The backward is the forward with the same seed and offset; an offset
	// continues a mask: two halves equal the whole.
	src := h.randn(101, 1)
	whole := h.out(101)
	h.must(b.Dropout(whole, h.in(src), 0.3, 42, 1000))
	s := h.in(src)
	halves := h.out(101)
	h.must(b.Dropout(halves.Slice(0, 50), s.Slice(0, 50), 0.3, 42, 1000))
	h.must(b.Dropout(halves.Slice(50, 51), s.Slice(50, 51), 0.3, 42, 1050))
	h.exact("Dropout in two halves", h.get(halves), F64(h.get(whole)))

	x := h.in(h.randn(8, 1))
	h.wantErr("Dropout with p = 1", nil, func() error { return b.Dropout(h.out(8), x, 1, 1, 0) })
	h.wantErr("Dropout with p < 0", nil, func() error { return b.Dropout(h.out(8), x, -0.1, 1, 0) })
	h.wantErr("Dropout with p NaN", nil, func() error { return b.Dropout(h.out(8), x, float32(math.NaN()), 1, 0) })
	h.wantErr("Dropout with a short dst", kernels.ErrShape, func() error { return b.Dropout(h.out(7), x, 0.5, 1, 0) })
	h.wantErr("Dropout of Int32", kernels.ErrDType, func() error { return b.Dropout(h.out(8), h.ints(make([]int32, 8)), 0.5, 1, 0) })
	h.wantErr("Dropout into a foreign dst", kernels.ErrBackend, func() error { return b.Dropout(h.foreign(kernels.Float32, 8), x, 0.5, 1, 0) })
}

// perms returns the 24 permutations of 0..3.
func perms() [][4]int {
	var out [][4]int
	for a := range 4 {
		for b := range 4 {
			for c := range 4 {
				d := 6 - a - b - c
				if a != b && a != c && b != c && d != a && d != b && d != c {
					out = append(out, [4]int{a, b, c, d})
				}
			}
		}
	}
	return out
}

func testPermute(h *harness) {
	b := h.b
	dimsList := [][4]int{{2, 3, 4, 5}, {1, 7, 1, 9}, {3, 1, 5, 1}, {1, 1, 1, 1}, {2, 9, 8, 17}}
	if !testing.Short() {
		dimsList = append(dimsList, [4]int{4, 128, 12, 64})
	}
	for _, dims := range dimsList {
		n := dims[0] * dims[1] * dims[2] * dims[3]
		src := h.randn(n, 1)
		s := h.in(src)
		ps := perms()
		if n > 100000 { // the large case: the attention permutations only
			ps = [][4]int{{0, 2, 1, 3}, {0, 1, 3, 2}, {0, 2, 3, 1}}
		}
		for _, perm := range ps {
			dst := h.out(n)
			h.must(b.Permute(dst, s, dims, perm))
			h.exact(fmt.Sprintf("Permute dims=%v perm=%v", dims, perm), h.get(dst), Permute(F64(src), dims, perm))
		}
		h.release()
	}
	s := h.in(h.randn(24, 1))
	id := [4]int{0, 1, 2, 3}
	h.wantErr("Permute with a repeated axis", kernels.ErrShape, func() error { return b.Permute(h.out(24), s, [4]int{1, 2, 3, 4}, [4]int{0, 1, 1, 3}) })
	h.wantErr("Permute with axis 4", kernels.ErrShape, func() error { return b.Permute(h.out(24), s, [4]int{1, 2, 3, 4}, [4]int{0, 1, 2, 4}) })
	h.wantErr("Permute with a wrong size", kernels.ErrShape, func() error { return b.Permute(h.out(24), s, [4]int{1, 2, 3, 5}, id) })
	h.wantErr("Permute with a short dst", kernels.ErrShape, func() error { return b.Permute(h.out(23), s, [4]int{1, 2, 3, 4}, id) })
	h.wantErr("Permute of Int32", kernels.ErrDType, func() error {
		return b.Permute(h.out(24), h.ints(make([]int32, 24)), [4]int{1, 2, 3, 4}, id)
	})
	h.wantErr("Permute into a foreign dst", kernels.ErrBackend, func() error {
		return b.Permute(h.foreign(kernels.Float32, 24), s, [4]int{1, 2, 3, 4}, id)
	})
}

func testFWHT(h *harness) {
	b := h.b
	maxLog := 12
	if !testing.Short() {
		maxLog = 16
	}
	for logN := 0; logN <= maxLog; logN++ {
		for _, batch := range []int{1, 3} {
			for _, on := range []bool{false, true} {
				x := h.randn(batch<<logN, 1)
				want := F64(x)
				FWHT(want, logN, batch, on)
				d := h.acc(x)
				h.must(b.FWHT(d, logN, batch, on))
				// Signed sums cancel: rounding is relative to Σ|x| per vector.
				h.checkScaled(fmt.Sprintf("FWHT logN=%d batch=%d orthonormal=%v", logN, batch, on), h.get(d), want, TolReduce, func() float64 {
					n, s := 1<<logN, 0.0
					sc := 1.0
					if on {
						sc = math.Pow(2, -float64(logN)/2)
					}
					for bt := 0; bt < batch; bt++ {
						var a float64
						for _, v := range x[bt*n : (bt+1)*n] {
							a += math.Abs(float64(v))
						}
						s += float64(n) * a * a * sc * sc
					}
					return math.Sqrt(s)
				})
			}
		}
		h.release()
	}
	// Orthonormal twice is the identity; a delta gives a row of the matrix.
	x := h.randn(64, 1)
	d := h.acc(x)
	h.must(b.FWHT(d, 6, 1, true))
	h.must(b.FWHT(d, 6, 1, true))
	h.check("FWHT orthonormal twice", h.get(d), F64(x), TolReduce)
	delta := make([]float32, 16)
	delta[5] = 1
	e := h.acc(delta)
	h.must(b.FWHT(e, 4, 1, false))
	row := make([]float64, 16)
	for i := range row {
		row[i] = HadamardEntry(i, 5)
	}
	h.exact("FWHT of e5", h.get(e), row)

	h.wantErr("FWHT with a wrong length", kernels.ErrShape, func() error { return b.FWHT(h.out(15), 4, 1, false) })
	h.wantErr("FWHT with logN -1", kernels.ErrShape, func() error { return b.FWHT(h.out(1), -1, 1, false) })
	h.wantErr("FWHT of Int32", kernels.ErrDType, func() error { return b.FWHT(h.ints(make([]int32, 16)), 4, 1, false) })
	h.wantErr("FWHT of a foreign buffer", kernels.ErrBackend, func() error { return b.FWHT(h.foreign(kernels.Float32, 16), 4, 1, false) })
}

// kronShapes are (In, Out, N, Rank) of PHM layers: tiny, odd (In/N and
// Out/N not multiples of 8), N = 1, and the T5-base adapter shapes.
func kronShapes() [][4]int {
	s := [][4]int{{1, 1, 1, 0}, {4, 4, 2, 0}, {6, 9, 3, 0}, {5, 7, 1, 0}, {15, 21, 3, 0}, {8, 12, 4, 1},
		{15, 21, 3, 2}, {32, 24, 4, 0}, {64, 96, 8, 3}, {768, 48, 4, 1}, {48, 768, 4, 1}}
	if !testing.Short() {
		s = append(s, [4]int{768, 96, 8, 0}, [4]int{96, 768, 12, 4})
	}
	return s
}

// kron returns random weights for a shape, scaled so that H is O(1).
func (h *harness) kron(s [4]int) (Kron, []float32, []float32, []float32, []float32) {
	in, out, n, rank := s[0], s[1], s[2], s[3]
	inN, outN := in/n, out/n
	k := Kron{In: in, Out: out, N: n, Rank: rank}
	a := h.randn(n*n*n, 1)
	k.A = F64(a)
	var w, sv, tv []float32
	if rank > 0 {
		sv, tv = h.randn(n*inN*rank, 1/math.Sqrt(float64(n))), h.randn(n*rank*outN, 1/math.Sqrt(float64(rank)))
		k.S, k.T = F64(sv), F64(tv)
	} else {
		w = h.randn(n*inN*outN, 1/math.Sqrt(float64(n)))
		k.W = F64(w)
	}
	return k, a, w, sv, tv
}

func testKronSum(h *harness) {
	b := h.b
	for _, s := range kronShapes() {
		k, a, w, sv, tv := h.kron(s)
		p := kernels.KronParams{In: k.In, Out: k.Out, N: k.N, Rank: k.Rank, A: h.in(a), H: h.out(k.In * k.Out)}
		if k.Rank > 0 {
			p.S, p.T = h.in(sv), h.in(tv)
		} else {
			p.W = h.in(w)
		}
		h.must(b.KronSum(p))
		h.checkScaled(fmt.Sprintf("KronSum %v", s), h.get(p.H), k.H(), TolReduce, func() float64 { return norm(absKron(k).H()) })
		h.release()
	}
	// A = identity-like rule with N = 2 gives H = blockdiag/antidiag of W.
	a := []float32{1, 0, 0, 0, 0, 0, 0, 1} // A[0] = e00, A[1] = e11
	w := []float32{1, 2, 3, 4, 5, 6, 7, 8} // W[0] = [[1 2] [3 4]], W[1] = [[5 6] [7 8]]
	p := kernels.KronParams{In: 4, Out: 4, N: 2, A: h.in(a), W: h.in(w), H: h.out(16)}
	h.must(b.KronSum(p))
	h.exact("KronSum of a block-diagonal rule", h.get(p.H), []float64{1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 5, 6, 0, 0, 7, 8})

	_, av, wv, _, _ := h.kron([4]int{6, 9, 3, 0})
	good := kernels.KronParams{In: 6, Out: 9, N: 3, A: h.in(av), W: h.in(wv), H: h.out(54)}
	errCase := func(what string, want error, mod func(p *kernels.KronParams)) {
		p := good
		mod(&p)
		h.wantErr("KronSum "+what, want, func() error { return b.KronSum(p) })
	}
	errCase("In not a multiple of N", kernels.ErrShape, func(p *kernels.KronParams) { p.In = 7 })
	errCase("N = 0", kernels.ErrShape, func(p *kernels.KronParams) { p.N = 0 })
	errCase("short H", kernels.ErrShape, func(p *kernels.KronParams) { p.H = h.out(53) })
	errCase("short A", kernels.ErrShape, func(p *kernels.KronParams) { p.A = h.in(av[:26]) })
	errCase("rank without S", kernels.ErrShape, func(p *kernels.KronParams) { p.Rank = 1 })
	errCase("Int32 W", kernels.ErrDType, func(p *kernels.KronParams) { p.W = h.ints(make([]int32, 18)) })
	errCase("foreign H", kernels.ErrBackend, func(p *kernels.KronParams) { p.H = h.foreign(kernels.Float32, 54) })
}

func testKronSumBackward(h *harness) {
	b := h.b
	for _, s := range kronShapes() {
		for sub := range 3 { // 0: all gradients, 1: only DA, 2: only DW (or DS)
			k, a, w, sv, tv := h.kron(s)
			inN, outN := k.In/k.N, k.Out/k.N
			dh := h.randn(k.In*k.Out, 1)
			p := kernels.KronParams{In: k.In, Out: k.Out, N: k.N, Rank: k.Rank, A: h.in(a), DH: h.in(dh)}
			if k.Rank > 0 {
				p.S, p.T = h.in(sv), h.in(tv)
			} else {
				p.W = h.in(w)
			}
			var da, dw, ds, dt []float64
			var da0, dw0, ds0, dt0 []float32 // initial values
			if sub != 2 {
				da0 = h.randn(k.N*k.N*k.N, 1)
				da, p.DA = F64(da0), h.acc(da0)
			}
			if sub != 1 {
				if k.Rank > 0 {
					ds0 = h.randn(k.N*inN*k.Rank, 1)
					ds, p.DS = F64(ds0), h.acc(ds0)
					if sub == 0 {
						dt0 = h.randn(k.N*k.Rank*outN, 1)
						dt, p.DT = F64(dt0), h.acc(dt0)
					}
				} else {
					dw0 = h.randn(k.N*inN*outN, 1)
					dw, p.DW = F64(dw0), h.acc(dw0)
				}
			}
			k.Backward(F64(dh), da, dw, ds, dt)
			// The gradients are signed sums: rounding is relative to the
			// same sums of absolute values.
			var sa, sw, ss, st []float64
			scales := sync.OnceFunc(func() {
				sa, sw, ss, st = absOrNil(da0), absOrNil(dw0), absOrNil(ds0), absOrNil(dt0)
				absKron(k).Backward(abs(dh), sa, sw, ss, st)
			})
			scale := func(x *[]float64) func() float64 { return func() float64 { scales(); return norm(*x) } }
			what := fmt.Sprintf("KronSumBackward %v grads=%d", s, sub)
			h.must(b.KronSumBackward(p))
			if da != nil {
				h.checkScaled(what+" DA", h.get(p.DA), da, TolGrad, scale(&sa))
			}
			if dw != nil {
				h.checkScaled(what+" DW", h.get(p.DW), dw, TolGrad, scale(&sw))
			}
			if ds != nil {
				h.checkScaled(what+" DS", h.get(p.DS), ds, TolGrad, scale(&ss))
			}
			if dt != nil {
				h.checkScaled(what+" DT", h.get(p.DT), dt, TolGrad, scale(&st))
			}
		}
		h.release()
	}
	_, av, wv, _, _ := h.kron([4]int{6, 9, 3, 0})
	good := kernels.KronParams{In: 6, Out: 9, N: 3, A: h.in(av), W: h.in(wv), DH: h.in(h.randn(54, 1)), DA: h.out(27), DW: h.out(18)}
	errCase := func(what string, want error, mod func(p *kernels.KronParams)) {
		p := good
		mod(&p)
		h.wantErr("KronSumBackward "+what, want, func() error { return b.KronSumBackward(p) })
	}
	errCase("nil DH", kernels.ErrShape, func(p *kernels.KronParams) { p.DH = nil })
	errCase("short DA", kernels.ErrShape, func(p *kernels.KronParams) { p.DA = h.out(26) })
	errCase("long DW", kernels.ErrShape, func(p *kernels.KronParams) { p.DW = h.out(19) })
	errCase("Int32 DH", kernels.ErrDType, func(p *kernels.KronParams) { p.DH = h.ints(make([]int32, 54)) })
	errCase("foreign DA", kernels.ErrBackend, func(p *kernels.KronParams) { p.DA = h.foreign(kernels.Float32, 27) })
}

var phmAlgos = []kernels.PHMAlgo{kernels.PHMFused, kernels.PHMMaterialize, kernels.PHMAuto}

// phmRows are the batch sizes (rows) of PHM tests.
func phmRows() []int {
	r := []int{1, 5, 37}
	if !testing.Short() {
		r = append(r, 128)
	}
	return r
}

// phmParams uploads a PHM layer's weights.
func (h *harness) phmParams(k Kron, a, w, sv, tv []float32, rows int) kernels.PHMParams {
	p := kernels.PHMParams{Rows: rows, In: k.In, Out: k.Out, N: k.N, Rank: k.Rank, A: h.in(a)}
	if k.Rank > 0 {
		p.S, p.T = h.in(sv), h.in(tv)
	} else {
		p.W = h.in(w)
	}
	return p
}

func testPHM(h *harness) {
	b := h.b
	for _, s := range kronShapes() {
		for _, rows := range phmRows() {
			k, a, w, sv, tv := h.kron(s)
			x, bias := h.randn(rows*k.In, 1), h.randn(k.Out, 1)
			for i, algo := range phmAlgos {
				p := h.phmParams(k, a, w, sv, tv, rows)
				p.X, p.Y, p.Algo = h.in(x), h.out(rows*k.Out), algo
				var hb []float64
				if i != 1 {
					p.Bias, hb = h.in(bias), F64(bias)
				}
				h.must(b.PHM(p))
				h.checkScaled(fmt.Sprintf("PHM %v rows=%d algo=%v bias=%v", s, rows, algo, hb != nil), h.get(p.Y), k.PHM(F64(x), rows, hb), TolReduce, func() float64 {
					var ab []float64
					if hb != nil {
						ab = abs(bias)
					}
					return norm(absKron(k).PHM(abs(x), rows, ab))
				})
				// Accumulate: Y0 + X·H + Bias.
				y0 := h.randn(rows*k.Out, 1)
				p.Y, p.Accumulate = h.acc(y0), true
				h.must(b.PHM(p))
				want := k.PHM(F64(x), rows, hb)
				for j, v := range y0 {
					want[j] += float64(v)
				}
				h.checkScaled(fmt.Sprintf("PHM %v rows=%d algo=%v bias=%v accumulate", s, rows, algo, hb != nil), h.get(p.Y), want, TolReduce, func() float64 {
					var ab []float64
					if hb != nil {
						ab = abs(bias)
					}
					sw := absKron(k).PHM(abs(x), rows, ab)
					for j, v := range y0 {
						sw[j] += math.Abs(float64(v))
					}
					return norm(sw)
				})
			}
			h.release()
		}
	}
	k, a, w, _, _ := h.kron([4]int{6, 9, 3, 0})
	good := h.phmParams(k, a, w, nil, nil, 2)
	good.X, good.Y = h.in(h.randn(12, 1)), h.out(18)
	errCase := func(what string, want error, mod func(p *kernels.PHMParams)) {
		p := good
		mod(&p)
		h.wantErr("PHM "+what, want, func() error { return b.PHM(p) })
	}
	errCase("short X", kernels.ErrShape, func(p *kernels.PHMParams) { p.X = h.in(h.randn(11, 1)) })
	errCase("short Y", kernels.ErrShape, func(p *kernels.PHMParams) { p.Y = h.out(17) })
	errCase("long Bias", kernels.ErrShape, func(p *kernels.PHMParams) { p.Bias = h.in(h.randn(10, 1)) })
	errCase("Out not a multiple of N", kernels.ErrShape, func(p *kernels.PHMParams) { p.Out = 10 })
	errCase("negative rows", kernels.ErrShape, func(p *kernels.PHMParams) { p.Rows = -1 })
	errCase("unknown algorithm", kernels.ErrShape, func(p *kernels.PHMParams) { p.Algo = kernels.PHMAlgo(9) })
	errCase("Int32 A", kernels.ErrDType, func(p *kernels.PHMParams) { p.A = h.ints(make([]int32, 27)) })
	errCase("foreign X", kernels.ErrBackend, func(p *kernels.PHMParams) { p.X = h.foreign(kernels.Float32, 12) })
}

func testPHMBackward(h *harness) {
	b := h.b
	for _, s := range kronShapes() {
		for _, rows := range phmRows() {
			k, a, w, sv, tv := h.kron(s)
			inN, outN := k.In/k.N, k.Out/k.N
			x, dy := h.randn(rows*k.In, 1), h.randn(rows*k.Out, 1)
			for i, algo := range phmAlgos {
				p := h.phmParams(k, a, w, sv, tv, rows)
				p.X, p.DY, p.Algo = h.in(x), h.in(dy), algo
				if i == 1 {
					p.Bias = h.in(h.randn(k.Out, 1)) // does not change the gradients
				}
				// Each accumulated gradient: the reference (starting from the
				// initial values) and, for the scale, |initial values|.
				acc := func(n int) ([]float64, []float64, kernels.Buffer) {
					v := h.randn(n, 1)
					return F64(v), abs(v), h.acc(v)
				}
				var da, dw, ds, dt, db, sa, sw, ss, st, sb []float64
				withDX := i != 2
				if withDX {
					p.DX = h.out(rows * k.In)
				}
				if i != 1 {
					da, sa, p.DA = acc(k.N * k.N * k.N)
				}
				if k.Rank > 0 {
					ds, ss, p.DS = acc(k.N * inN * k.Rank)
					if i != 2 {
						dt, st, p.DT = acc(k.N * k.Rank * outN)
					}
				} else {
					dw, sw, p.DW = acc(k.N * inN * outN)
				}
				if i != 0 {
					db, sb, p.DBias = acc(k.Out)
				}
				wdx := k.PHMBackward(F64(x), F64(dy), rows, da, dw, ds, dt, db)
				// The gradients are signed sums: rounding is relative to the
				// same sums of absolute values.
				var sdx []float64
				scales := sync.OnceFunc(func() { sdx = absKron(k).PHMBackward(abs(x), abs(dy), rows, sa, sw, ss, st, sb) })
				scale := func(x *[]float64) func() float64 { return func() float64 { scales(); return norm(*x) } }
				what := fmt.Sprintf("PHMBackward %v rows=%d algo=%v", s, rows, algo)
				h.must(b.PHMBackward(p))
				if withDX {
					h.checkScaled(what+" DX", h.get(p.DX), wdx, TolReduce, scale(&sdx))
					// Accumulate, DX alone: DX0 + the input gradient.
					dx0 := h.randn(rows*k.In, 1)
					q := p
					q.DA, q.DW, q.DS, q.DT, q.DBias = nil, nil, nil, nil, nil
					q.DX, q.Accumulate = h.acc(dx0), true
					h.must(b.PHMBackward(q))
					want := slices.Clone(wdx)
					for j, v := range dx0 {
						want[j] += float64(v)
					}
					h.checkScaled(what+" DX accumulate", h.get(q.DX), want, TolReduce, func() float64 {
						scales()
						sw := slices.Clone(sdx)
						for j, v := range dx0 {
							sw[j] += math.Abs(float64(v))
						}
						return norm(sw)
					})
				}
				for _, g := range []struct {
					name  string
					want  []float64
					scale *[]float64
					buf   kernels.Buffer
				}{{"DA", da, &sa, p.DA}, {"DW", dw, &sw, p.DW}, {"DS", ds, &ss, p.DS}, {"DT", dt, &st, p.DT}, {"DBias", db, &sb, p.DBias}} {
					if g.want != nil {
						h.checkScaled(what+" "+g.name, h.get(g.buf), g.want, TolGrad, scale(g.scale))
					}
				}
			}
			h.release()
		}
	}
	k, a, w, _, _ := h.kron([4]int{6, 9, 3, 0})
	good := h.phmParams(k, a, w, nil, nil, 2)
	good.X, good.DY, good.DX, good.DA, good.DW = h.in(h.randn(12, 1)), h.in(h.randn(18, 1)), h.out(12), h.out(27), h.out(18)
	errCase := func(what string, want error, mod func(p *kernels.PHMParams)) {
		p := good
		mod(&p)
		h.wantErr("PHMBackward "+what, want, func() error { return b.PHMBackward(p) })
	}
	errCase("nil DY", kernels.ErrShape, func(p *kernels.PHMParams) { p.DY = nil })
	errCase("short DX", kernels.ErrShape, func(p *kernels.PHMParams) { p.DX = h.out(11) })
	errCase("short DBias", kernels.ErrShape, func(p *kernels.PHMParams) { p.DBias = h.out(8) })
	errCase("long DW", kernels.ErrShape, func(p *kernels.PHMParams) { p.DW = h.out(19) })
	errCase("Int32 DY", kernels.ErrDType, func(p *kernels.PHMParams) { p.DY = h.ints(make([]int32, 18)) })
	errCase("foreign DA", kernels.ErrBackend, func(p *kernels.PHMParams) { p.DA = h.foreign(kernels.Float32, 27) })
}
