package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// opLens are the awkward lengths the vector kernels are tested on.
var opLens = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 4097}

// opBackends returns the backends the op tests run on: the SIMD one (when
// the CPU has AVX2+FMA) and the pure-Go one, with 3 threads so that the
// parallel splits are exercised.
func opBackends() []*Backend {
	return []*Backend{New(Options{Threads: 3}), New(Options{Threads: 3, PureGo: true})}
}

func opRandF32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func opTo64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// relErr returns ‖got−ref‖/‖ref‖ (the absolute error when ref is 0).
func opRelErr(got []float32, ref []float64) float64 {
	var num, den float64
	for i, r := range ref {
		d := float64(got[i]) - r
		num += d * d
		den += r * r
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func opCheckRel(t *testing.T, what string, got []float32, ref []float64, tol float64) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(ref))
	}
	if e := opRelErr(got, ref); !(e <= tol) {
		t.Errorf("%s: relative error %.3g > %.3g", what, e, tol)
	}
}

// upload makes a buffer holding x; with view it is a view at offset 1 of a
// longer buffer, so that its memory is not 32-byte aligned.
func opUpload(t testing.TB, b *Backend, x []float32, view bool) kernels.Buffer {
	t.Helper()
	n := len(x)
	var buf kernels.Buffer
	var err error
	if view {
		buf, err = b.Alloc(kernels.Float32, n+2)
		if err == nil {
			buf = buf.Slice(1, n)
		}
	} else {
		buf, err = b.Alloc(kernels.Float32, n)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(buf, x); err != nil {
		t.Fatal(err)
	}
	return buf
}

func opUploadInt(t testing.TB, b *Backend, x []int32) kernels.Buffer {
	t.Helper()
	buf, err := b.Alloc(kernels.Int32, len(x))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.UploadInt32(buf, x); err != nil {
		t.Fatal(err)
	}
	return buf
}

func opDownload(t testing.TB, b *Backend, buf kernels.Buffer) []float32 {
	t.Helper()
	x := make([]float32, buf.Len())
	if err := b.Download(x, buf); err != nil {
		t.Fatal(err)
	}
	return x
}

func opMustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func opSameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// guarded returns a slice of n elements at offset off of a buffer filled
// with a sentinel, and a check that nothing outside the slice changed.
func opGuarded(n, off int) ([]float32, func() bool) {
	buf := make([]float32, n+off+9)
	for i := range buf {
		buf[i] = -12345
	}
	return buf[off : off+n], func() bool {
		for i, v := range buf {
			if (i < off || i >= off+n) && v != -12345 {
				return false
			}
		}
		return true
	}
}

func TestVecKernelsAsmVsGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range opLens {
		for off := range 2 {
			a, b, w := opRandF32(rng, n+off)[off:], opRandF32(rng, n+off)[off:], opRandF32(rng, n+off)[off:]
			exact := []struct {
				name string
				asm  func(d []float32)
				gen  func(d []float32)
			}{
				{"add", func(d []float32) { addAVX2(d, a, b) }, func(d []float32) { addGeneric(d, a, b) }},
				{"sub", func(d []float32) { subAVX2(d, a, b) }, func(d []float32) { subGeneric(d, a, b) }},
				{"mul", func(d []float32) { mulAVX2(d, a, b) }, func(d []float32) { mulGeneric(d, a, b) }},
				{"scaleTo", func(d []float32) { scaleToAVX2(d, a, -1.7) }, func(d []float32) { scaleToGeneric(d, a, -1.7) }},
				{"scaleMul", func(d []float32) { scaleMulAVX2(d, a, w, 0.3) }, func(d []float32) { scaleMulGeneric(d, a, w, 0.3) }},
				{"relu", func(d []float32) { reluAVX2(d, a) }, func(d []float32) { reluGeneric(d, a) }},
				{"reluBackward", func(d []float32) { reluBackwardAVX2(d, b, a) }, func(d []float32) { reluBackwardGeneric(d, b, a) }},
			}
			for _, k := range exact {
				d1, ok := opGuarded(n, off)
				k.asm(d1)
				d2 := make([]float32, n)
				k.gen(d2)
				if !ok() {
					t.Errorf("%s n=%d off=%d: wrote outside dst", k.name, n, off)
				}
				if i := opSameBits(d1, d2); i >= 0 {
					t.Errorf("%s n=%d off=%d: [%d] asm %v generic %v", k.name, n, off, i, d1[i], d2[i])
				}
			}
			// axpby fuses its multiply-add: within one rounding per term.
			d1, ok := opGuarded(n, off)
			copy(d1, b)
			axpbyAVX2(d1, a, 0.7, -1.3)
			if !ok() {
				t.Errorf("axpby n=%d: wrote outside dst", n)
			}
			for i := range n {
				ref := 0.7*float64(a[i]) - 1.3*float64(b[i])
				if math.Abs(float64(d1[i])-ref) > 2e-7*(0.7*math.Abs(float64(a[i]))+1.3*math.Abs(float64(b[i]))) {
					t.Fatalf("axpby n=%d [%d] = %v, want %v", n, i, d1[i], ref)
				}
			}
			d1, ok = opGuarded(n, off)
			copy(d1, b)
			mulAddAVX2(d1, a, w, 0.7)
			if !ok() {
				t.Errorf("mulAdd n=%d: wrote outside dst", n)
			}
			for i := range n {
				ref := float64(b[i]) + float64(a[i])*0.7*float64(w[i])
				if math.Abs(float64(d1[i])-ref) > 2e-7*(math.Abs(float64(b[i]))+math.Abs(float64(a[i])*0.7*float64(w[i]))) {
					t.Fatalf("mulAdd n=%d [%d] = %v, want %v", n, i, d1[i], ref)
				}
			}
			m := float32(math.Inf(-1))
			for _, v := range a {
				m = max(m, v)
			}
			if g1, g2 := maxAVX2(a), maxGeneric(a); g1 != m || g2 != m {
				t.Errorf("max n=%d off=%d: asm %v generic %v, want %v", n, off, g1, g2, m)
			}
			var ss, dot, sabs, dabs float64
			for i := range n {
				ss += float64(a[i]) * float64(a[i])
				dot += float64(a[i]) * float64(b[i])
				dabs += math.Abs(float64(a[i]) * float64(b[i]))
			}
			sabs = ss
			for _, f := range []func([]float32) float32{sumSquaresAVX2, sumSquaresGeneric} {
				if got := float64(f(a)); math.Abs(got-ss) > 1e-6*sabs+1e-30 {
					t.Errorf("sumSquares n=%d off=%d = %v, want %v", n, off, got, ss)
				}
			}
			for _, f := range []func(x, y []float32) float32{dotAVX2, dotGeneric} {
				if got := float64(f(a, b)); math.Abs(got-dot) > 1e-6*dabs+1e-30 {
					t.Errorf("dot n=%d off=%d = %v, want %v", n, off, got, dot)
				}
			}
		}
	}
}

func TestReLUSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	x := []float32{nan, negz, 0, -1, 2, -inf, inf, 3, nan, -5}
	dy := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	d1, d2 := make([]float32, len(x)), make([]float32, len(x))
	reluAVX2(d1, x)
	reluGeneric(d2, x)
	if i := opSameBits(d1, d2); i >= 0 {
		t.Errorf("relu [%d]: asm %v generic %v", i, d1[i], d2[i])
	}
	if d2[0] == d2[0] || d2[3] != 0 || d2[4] != 2 || d2[5] != 0 {
		t.Errorf("relu = %v", d2)
	}
	reluBackwardAVX2(d1, dy, x)
	reluBackwardGeneric(d2, dy, x)
	if i := opSameBits(d1, d2); i >= 0 {
		t.Errorf("relu backward [%d]: asm %v generic %v", i, d1[i], d2[i])
	}
	want := []float32{1, 0, 0, 0, 5, 0, 7, 8, 9, 0}
	if i := opSameBits(d2, want); i >= 0 {
		t.Errorf("relu backward = %v, want %v", d2, want)
	}
}

func TestBinaryAxpbyScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, b := range opBackends() {
		for _, n := range append(opLens, 100003) { // the last one runs in parallel
			x, y := opRandF32(rng, n), opRandF32(rng, n)
			for _, view := range []bool{false, true} {
				for _, op := range []kernels.BinaryOp{kernels.Add, kernels.Sub, kernels.Mul} {
					ref := make([]float64, n)
					for i := range n {
						a, c := float64(x[i]), float64(y[i])
						switch op {
						case kernels.Add:
							ref[i] = a + c
						case kernels.Sub:
							ref[i] = a - c
						default:
							ref[i] = a * c
						}
					}
					xa, ya := opUpload(t, b, x, view), opUpload(t, b, y, view)
					d := opUpload(t, b, make([]float32, n), view)
					opMustOK(t, b.Binary(op, d, xa, ya))
					opCheckRel(t, b.Name()+" "+op.String(), opDownload(t, b, d), ref, 1e-7)
					opMustOK(t, b.Binary(op, xa, xa, ya)) // dst aliases a
					opCheckRel(t, b.Name()+" "+op.String()+" aliased", opDownload(t, b, xa), ref, 1e-7)
				}
				// Axpby, beta = 0 does not read NaN dst.
				nanv := make([]float32, n)
				for i := range nanv {
					nanv[i] = float32(math.NaN())
				}
				d := opUpload(t, b, nanv, view)
				xa := opUpload(t, b, x, view)
				opMustOK(t, b.Axpby(d, 2.5, xa, 0))
				ref := make([]float64, n)
				for i := range n {
					ref[i] = 2.5 * float64(x[i])
				}
				opCheckRel(t, b.Name()+" axpby beta=0", opDownload(t, b, d), ref, 1e-7)
				d = opUpload(t, b, y, view)
				opMustOK(t, b.Axpby(d, 2.5, xa, -0.5))
				for i := range n {
					ref[i] = 2.5*float64(x[i]) - 0.5*float64(y[i])
				}
				opCheckRel(t, b.Name()+" axpby", opDownload(t, b, d), ref, 2e-7)
				opMustOK(t, b.Scale(d, 3))
				for i := range n {
					ref[i] *= 3
				}
				opCheckRel(t, b.Name()+" scale", opDownload(t, b, d), ref, 3e-7)
			}
		}
	}
}

func TestAddBiasSumRowsSumSquares(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := [][2]int{{0, 3}, {1, 1}, {3, 7}, {5, 33}, {17, 1000}, {300, 9}, {64, 700}}
	for _, b := range opBackends() {
		for _, sh := range shapes {
			rows, cols := sh[0], sh[1]
			x, bias, d0 := opRandF32(rng, rows*cols), opRandF32(rng, cols), opRandF32(rng, cols)
			xb, bb := opUpload(t, b, x, true), opUpload(t, b, bias, true)
			opMustOK(t, b.AddBias(xb, bb, rows, cols))
			ref := make([]float64, rows*cols)
			for i := range ref {
				ref[i] = float64(x[i]) + float64(bias[i%cols])
			}
			opCheckRel(t, b.Name()+" addbias", opDownload(t, b, xb), ref, 1e-7)

			for _, beta := range []float32{0, 1, 0.5} {
				init := d0
				if beta == 0 {
					init = make([]float32, cols)
					for i := range init {
						init[i] = float32(math.NaN())
					}
				}
				db := opUpload(t, b, init, true)
				xb := opUpload(t, b, x, false)
				opMustOK(t, b.SumRows(db, xb, rows, cols, beta))
				sref := make([]float64, cols)
				for c := range cols {
					if beta != 0 {
						sref[c] = float64(beta) * float64(d0[c])
					}
					for r := range rows {
						sref[c] += float64(x[r*cols+c])
					}
				}
				opCheckRel(t, b.Name()+" sumrows", opDownload(t, b, db), sref, 1e-6)
			}
		}
		for _, n := range []int{0, 1, 33, 4097, 100000} {
			x := opRandF32(rng, n)
			dst := opUpload(t, b, []float32{1.5, 7}, false)
			xb := opUpload(t, b, x, true)
			opMustOK(t, b.SumSquares(dst, xb))
			opMustOK(t, b.SumSquares(dst, xb))
			ss := 1.5
			for range 2 {
				for _, v := range x {
					ss += float64(v) * float64(v)
				}
			}
			opCheckRel(t, b.Name()+" sumsquares", opDownload(t, b, dst), []float64{ss, 7}, 1e-6)
		}
	}
}

// TestOpErrors checks that bad arguments are errors wrapping ErrShape,
// ErrDType or ErrBackend, and never panic.
func TestOpErrors(t *testing.T) {
	b := New(Options{})
	other := New(Options{})
	f := func(n int) kernels.Buffer { x, _ := b.Alloc(kernels.Float32, n); return x }
	i32 := func(v ...int32) kernels.Buffer { return opUploadInt(t, b, v) }
	foreign, _ := other.Alloc(kernels.Float32, 4)
	cases := []struct {
		name string
		err  error
	}{
		{"binary op", b.Binary(0, f(4), f(4), f(4))},
		{"binary len", b.Binary(kernels.Add, f(4), f(3), f(4))},
		{"binary nil", b.Binary(kernels.Add, f(4), nil, f(4))},
		{"binary dtype", b.Binary(kernels.Add, f(3), i32(1, 2, 3), f(3))},
		{"binary foreign", b.Binary(kernels.Add, f(4), foreign, f(4))},
		{"axpby", b.Axpby(f(4), 1, f(5), 1)},
		{"scale nil", b.Scale(nil, 1)},
		{"addbias", b.AddBias(f(6), f(2), 2, 3)},
		{"addbias neg", b.AddBias(f(6), f(3), -2, 3)},
		{"sumrows", b.SumRows(f(2), f(6), 2, 3, 0)},
		{"sumsquares", b.SumSquares(f(0), f(3))},
		{"act", b.Act(0, f(3), f(3))},
		{"act len", b.Act(kernels.ReLU, f(3), f(2))},
		{"actbackward", b.ActBackward(kernels.GeLU, f(3), f(3), f(2))},
		{"rmsnorm", b.RMSNorm(kernels.RMSNormParams{Rows: 2, Cols: 3, X: f(6), W: f(2), Y: f(6), RStd: f(2)})},
		{"rmsnorm backward", b.RMSNormBackward(kernels.RMSNormParams{Rows: 2, Cols: 3, X: f(6), W: f(3), RStd: f(2), DY: f(6), DX: f(5)})},
		{"softmax", b.Softmax(kernels.SoftmaxParams{X: f(6), Y: f(6), Batch: 1, Heads: 1, Rows: 3, Cols: 2, Causal: true})},
		{"softmax mask", b.Softmax(kernels.SoftmaxParams{X: f(6), Y: f(6), Batch: 1, Heads: 1, Rows: 2, Cols: 3,
			Masks: []kernels.AdditiveMask{{M: f(3), StrideRow: 3}}})},
		{"softmax backward", b.SoftmaxBackward(f(6), f(6), f(5), 2, 3)},
		{"embedding id", b.Embedding(f(4), f(6), i32(0, 3), 2)},
		{"embedding neg id", b.Embedding(f(4), f(6), i32(-1, 0), 2)},
		{"embedding dim", b.Embedding(f(4), f(6), i32(0, 1), 0)},
		{"embedding table", b.Embedding(f(4), f(7), i32(0, 1), 2)},
		{"embedding backward", b.EmbeddingBackward(f(6), f(4), i32(0, 3), 2)},
		{"crossentropy label", b.CrossEntropy(kernels.CrossEntropyParams{Logits: f(6), Labels: i32(0, 3), Loss: f(2), Rows: 2, Vocab: 3, IgnoreIndex: -100})},
		{"crossentropy shape", b.CrossEntropy(kernels.CrossEntropyParams{Logits: f(6), Labels: i32(0, 1), Loss: f(3), Rows: 2, Vocab: 3})},
		{"adamw", b.AdamW(kernels.AdamWParams{Param: f(3), Grad: f(3), M: f(3), V: f(2), Step: 1, Beta1: 0.9, Beta2: 0.99})},
		{"adamw step", b.AdamW(kernels.AdamWParams{Param: f(3), Grad: f(3), M: f(3), V: f(3), Step: 0, Beta1: 0.9, Beta2: 0.99})},
		{"dropout p", b.Dropout(f(3), f(3), 1, 0, 0)},
		{"dropout nan p", b.Dropout(f(3), f(3), float32(math.NaN()), 0, 0)},
		{"dropout len", b.Dropout(f(3), f(4), 0.1, 0, 0)},
		{"permute", b.Permute(f(6), f(6), [4]int{1, 1, 2, 3}, [4]int{0, 1, 3, 3})},
		{"permute len", b.Permute(f(5), f(6), [4]int{1, 1, 2, 3}, [4]int{0, 1, 3, 2})},
		{"fwht logN", b.FWHT(f(8), 31, 1, false)},
		{"fwht len", b.FWHT(f(7), 3, 1, false)},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !errors.Is(c.err, kernels.ErrShape) && !errors.Is(c.err, kernels.ErrDType) && !errors.Is(c.err, kernels.ErrBackend) {
			t.Errorf("%s: %v does not wrap a kernels error", c.name, c.err)
		}
	}
}

// FuzzVecAdd holds the assembly add, sub and mul bit-identical to the
// pure-Go twins on arbitrary bit patterns and lengths.
func FuzzVecAdd(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64}, uint8(0))
	f.Add(make([]byte, 4*37), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		n := len(data) / 8
		o := int(off % 4)
		if n <= o {
			return
		}
		a, b := make([]float32, n), make([]float32, n)
		for i := range n {
			a[i] = math.Float32frombits(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24)
			j := 4 * (n + i)
			b[i] = math.Float32frombits(uint32(data[j]) | uint32(data[j+1])<<8 | uint32(data[j+2])<<16 | uint32(data[j+3])<<24)
		}
		a, b = a[o:], b[o:]
		for _, k := range []struct {
			asm, gen func(d, a, b []float32)
		}{{addAVX2, addGeneric}, {subAVX2, subGeneric}, {mulAVX2, mulGeneric}} {
			d1, d2 := make([]float32, len(a)), make([]float32, len(a))
			k.asm(d1, a, b)
			k.gen(d2, a, b)
			for i := range d1 {
				// NaN payloads may differ; NaN-ness may not.
				if math.Float32bits(d1[i]) != math.Float32bits(d2[i]) && !(d1[i] != d1[i] && d2[i] != d2[i]) {
					t.Fatalf("[%d] %v op %v: asm %v generic %v", i, a[i], b[i], d1[i], d2[i])
				}
			}
		}
	})
}
