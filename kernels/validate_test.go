package kernels

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// buf is a Buffer with only a dtype and a length, enough for the checks.
type buf struct {
	dt DType
	n  int
}

func (b buf) DType() DType            { return b.dt }
func (b buf) Len() int                { return b.n }
func (b buf) Slice(off, n int) Buffer { return buf{b.dt, n} }

func f32(n int) Buffer { return buf{Float32, n} }
func i32(n int) Buffer { return buf{Int32, n} }

// wantErr checks that err wraps want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want one wrapping %v", what, err, want)
	}
}

func TestDTypeAndNames(t *testing.T) {
	if Float32.Size() != 4 || Int32.Size() != 4 || DType(0).Size() != 0 {
		t.Error("DType.Size")
	}
	if Float32.String() != "float32" || Int32.String() != "int32" || DType(9).String() != "DType(9)" {
		t.Error("DType.String")
	}
	for op, s := range map[BinaryOp]string{Add: "add", Sub: "sub", Mul: "mul", 7: "BinaryOp(7)"} {
		if op.String() != s {
			t.Errorf("BinaryOp %d String = %q, want %q", op, op.String(), s)
		}
	}
	for a, s := range map[PHMAlgo]string{PHMAuto: "auto", PHMFused: "fused", PHMMaterialize: "materialize", 5: "PHMAlgo(5)"} {
		if a.String() != s {
			t.Errorf("PHMAlgo %d String = %q, want %q", a, a.String(), s)
		}
	}
	// Every activation's name parses back to it.
	for a := ReLU; a <= Sigmoid; a++ {
		got, err := ParseActivation(a.String())
		if err != nil || got != a {
			t.Errorf("ParseActivation(%q) = %v, %v, want %v", a.String(), got, err, a)
		}
	}
	for name, want := range map[string]Activation{"swish": SiLU, "gelu_pytorch_tanh": GeLUNew, "tanh-gelu": GeLUNew} {
		if got, err := ParseActivation(name); err != nil || got != want {
			t.Errorf("ParseActivation(%q) = %v, %v, want %v", name, got, err, want)
		}
	}
	if _, err := ParseActivation("gelu_fast"); err == nil || !strings.Contains(err.Error(), "gelu_fast") {
		t.Errorf("ParseActivation of an unknown name: %v", err)
	}
	if Activation(42).String() != "Activation(42)" {
		t.Error("Activation.String of an unknown value")
	}
}

func TestCheckBuf(t *testing.T) {
	wantErr(t, "nil", CheckBuf("op", "x", nil, Float32, 1), ErrShape)
	wantErr(t, "dtype", CheckBuf("op", "x", i32(4), Float32, 1), ErrDType)
	wantErr(t, "negative n", CheckBuf("op", "x", f32(4), Float32, -1), ErrShape)
	wantErr(t, "short", CheckBuf("op", "x", f32(4), Float32, 5), ErrShape)
	wantErr(t, "long is fine", CheckBuf("op", "x", f32(4), Float32, 3), nil)
	wantErr(t, "exact long", CheckExact("op", "x", f32(4), Float32, 3), ErrShape)
	wantErr(t, "exact", CheckExact("op", "x", i32(4), Int32, 4), nil)
	err := CheckExact("myop", "Weights", f32(4), Float32, 3)
	if !strings.Contains(err.Error(), "myop") || !strings.Contains(err.Error(), "Weights") {
		t.Errorf("error %q does not name the operation and the argument", err)
	}
}

func TestGemmNormalize(t *testing.T) {
	p, err := GemmParams{M: 3, N: 5, K: 7, A: f32(21), B: f32(35), C: f32(15)}.Normalize()
	if err != nil || p.LDA != 7 || p.LDB != 5 || p.LDC != 5 || p.Batch != 1 {
		t.Errorf("Normalize: %+v, %v", p, err)
	}
	p, err = GemmParams{TransA: true, TransB: true, M: 3, N: 5, K: 7, A: f32(21), B: f32(35), C: f32(15)}.Normalize()
	if err != nil || p.LDA != 3 || p.LDB != 7 {
		t.Errorf("Normalize transposed: lda=%d ldb=%d, %v", p.LDA, p.LDB, err)
	}
	if p.FLOPs() != 2*3*5*7 {
		t.Errorf("FLOPs = %v", p.FLOPs())
	}
	if f := (GemmParams{M: 2, N: 3, K: 4, Batch: 5}).FLOPs(); f != 2*2*3*4*5 {
		t.Errorf("batched FLOPs = %v", f)
	}
	// K = 0: A and B are not needed; M = 0: nothing is.
	if _, err := (GemmParams{M: 2, N: 2, K: 0, C: f32(4)}).Normalize(); err != nil {
		t.Errorf("K=0: %v", err)
	}
	if _, err := (GemmParams{M: 0, N: 2, K: 3}).Normalize(); err != nil {
		t.Errorf("M=0: %v", err)
	}
	good := GemmParams{M: 2, N: 3, K: 4, A: f32(8), B: f32(12), C: f32(6)}
	cases := []struct {
		name string
		mod  func(p *GemmParams)
		want error
	}{
		{"good", func(p *GemmParams) {}, nil},
		{"padded lds", func(p *GemmParams) { p.LDA, p.LDB, p.LDC, p.A, p.B, p.C = 6, 4, 5, f32(10), f32(15), f32(8) }, nil},
		{"padded lds, short A", func(p *GemmParams) { p.LDA = 6 }, ErrShape},
		{"batch", func(p *GemmParams) { p.Batch, p.StrideA, p.StrideC, p.A, p.C = 3, 8, 7, f32(24), f32(20) }, nil},
		{"batch, short C", func(p *GemmParams) { p.Batch, p.StrideC, p.C = 3, 7, f32(19) }, ErrShape},
		{"batch, StrideC 0", func(p *GemmParams) { p.Batch = 2 }, ErrShape},
		{"negative m", func(p *GemmParams) { p.M = -1 }, ErrShape},
		{"negative k", func(p *GemmParams) { p.K = -1 }, ErrShape},
		{"negative batch", func(p *GemmParams) { p.Batch = -1 }, ErrShape},
		{"negative stride", func(p *GemmParams) { p.StrideB = -1 }, ErrShape},
		{"lda < k", func(p *GemmParams) { p.LDA = 3 }, ErrShape},
		{"ldb < n", func(p *GemmParams) { p.LDB = 2 }, ErrShape},
		{"ldc < n", func(p *GemmParams) { p.LDC = 2 }, ErrShape},
		{"transposed lda < m", func(p *GemmParams) { p.TransA, p.LDA = true, 1 }, ErrShape},
		{"short B", func(p *GemmParams) { p.B = f32(11) }, ErrShape},
		{"nil C", func(p *GemmParams) { p.C = nil }, ErrShape},
		{"Int32 A", func(p *GemmParams) { p.A = i32(8) }, ErrDType},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		_, err := p.Normalize()
		wantErr(t, "Gemm "+c.name, err, c.want)
	}
}

func TestRMSNormValidate(t *testing.T) {
	good := RMSNormParams{Rows: 3, Cols: 4, X: f32(12), W: f32(4), Y: f32(12), RStd: f32(3), DY: f32(12), DX: f32(12)}
	cases := []struct {
		name     string
		mod      func(p *RMSNormParams)
		fwd, bwd error
	}{
		{"good", func(p *RMSNormParams) {}, nil, nil},
		{"with DW", func(p *RMSNormParams) { p.DW = f32(4) }, nil, nil},
		{"zero rows", func(p *RMSNormParams) {
			p.Rows, p.X, p.Y, p.RStd, p.DY, p.DX = 0, f32(0), f32(0), f32(0), f32(0), f32(0)
		}, nil, nil},
		{"zero cols", func(p *RMSNormParams) { p.Cols = 0 }, ErrShape, ErrShape},
		{"short W", func(p *RMSNormParams) { p.W = f32(3) }, ErrShape, ErrShape},
		{"long X", func(p *RMSNormParams) { p.X = f32(13) }, ErrShape, ErrShape},
		{"short RStd", func(p *RMSNormParams) { p.RStd = f32(2) }, ErrShape, ErrShape},
		{"no Y", func(p *RMSNormParams) { p.Y = nil }, ErrShape, nil},
		{"no DX", func(p *RMSNormParams) { p.DX = nil }, nil, ErrShape},
		{"short DY", func(p *RMSNormParams) { p.DY = f32(11) }, nil, ErrShape},
		{"long DW", func(p *RMSNormParams) { p.DW = f32(5) }, nil, ErrShape},
		{"Int32 W", func(p *RMSNormParams) { p.W = i32(4) }, ErrDType, ErrDType},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		wantErr(t, "RMSNorm "+c.name, p.Validate(false), c.fwd)
		wantErr(t, "RMSNormBackward "+c.name, p.Validate(true), c.bwd)
	}
}

func TestSoftmaxValidate(t *testing.T) {
	good := SoftmaxParams{X: f32(120), Y: f32(120), Batch: 2, Heads: 3, Rows: 4, Cols: 5}
	cases := []struct {
		name string
		mod  func(p *SoftmaxParams)
		want error
	}{
		{"good", func(p *SoftmaxParams) {}, nil},
		{"causal", func(p *SoftmaxParams) { p.Causal = true }, nil},
		{"causal rows > cols", func(p *SoftmaxParams) { p.Rows, p.Cols, p.Causal = 5, 4, true }, ErrShape},
		{"padding mask", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{M: f32(10), StrideBatch: 5}} }, nil},
		{"short padding mask", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{M: f32(9), StrideBatch: 5}} }, ErrShape},
		{"position bias", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{M: f32(60), StrideHead: 20, StrideRow: 5}} }, nil},
		{"short position bias", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{M: f32(59), StrideHead: 20, StrideRow: 5}} }, ErrShape},
		{"negative stride", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{M: f32(60), StrideHead: -1}} }, ErrShape},
		{"nil mask", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{}} }, ErrShape},
		{"Int32 mask", func(p *SoftmaxParams) { p.Masks = []AdditiveMask{{M: i32(5)}} }, ErrDType},
		{"zero cols", func(p *SoftmaxParams) { p.Cols = 0 }, ErrShape},
		{"negative batch", func(p *SoftmaxParams) { p.Batch = -1 }, ErrShape},
		{"short Y", func(p *SoftmaxParams) { p.Y = f32(119) }, ErrShape},
		{"empty", func(p *SoftmaxParams) { p.Batch, p.X, p.Y, p.Masks = 0, f32(0), f32(0), []AdditiveMask{{}} }, nil},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		wantErr(t, "Softmax "+c.name, p.Validate(), c.want)
	}
}

func TestCrossEntropyValidate(t *testing.T) {
	good := CrossEntropyParams{Logits: f32(12), Labels: i32(3), Loss: f32(3), Rows: 3, Vocab: 4}
	cases := []struct {
		name string
		mod  func(p *CrossEntropyParams)
		want error
	}{
		{"good", func(p *CrossEntropyParams) {}, nil},
		{"with DLogits", func(p *CrossEntropyParams) { p.DLogits = f32(12) }, nil},
		{"short DLogits", func(p *CrossEntropyParams) { p.DLogits = f32(11) }, ErrShape},
		{"Float32 labels", func(p *CrossEntropyParams) { p.Labels = f32(3) }, ErrDType},
		{"short Loss", func(p *CrossEntropyParams) { p.Loss = f32(2) }, ErrShape},
		{"zero vocab", func(p *CrossEntropyParams) { p.Vocab = 0 }, ErrShape},
		{"negative rows", func(p *CrossEntropyParams) { p.Rows = -1 }, ErrShape},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		wantErr(t, "CrossEntropy "+c.name, p.Validate(), c.want)
	}
}

func TestAdamWValidate(t *testing.T) {
	good := AdamWParams{Param: f32(5), Grad: f32(5), M: f32(5), V: f32(5), LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	cases := []struct {
		name string
		mod  func(p *AdamWParams)
		want error
	}{
		{"good", func(p *AdamWParams) {}, nil},
		{"zero betas", func(p *AdamWParams) { p.Beta1, p.Beta2 = 0, 0 }, nil},
		{"nil Param", func(p *AdamWParams) { p.Param = nil }, ErrShape},
		{"short Grad", func(p *AdamWParams) { p.Grad = f32(4) }, ErrShape},
		{"long V", func(p *AdamWParams) { p.V = f32(6) }, ErrShape},
		{"Int32 M", func(p *AdamWParams) { p.M = i32(5) }, ErrDType},
		{"step 0", func(p *AdamWParams) { p.Step = 0 }, ErrShape},
		{"beta1 1", func(p *AdamWParams) { p.Beta1 = 1 }, ErrShape},
		{"beta2 negative", func(p *AdamWParams) { p.Beta2 = -0.1 }, ErrShape},
		{"beta1 NaN", func(p *AdamWParams) { p.Beta1 = float32(math.NaN()) }, ErrShape},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		wantErr(t, "AdamW "+c.name, p.Validate(), c.want)
	}
}

func TestKronValidate(t *testing.T) {
	// In = 6, Out = 9, N = 3: In/N = 2, Out/N = 3.
	good := KronParams{In: 6, Out: 9, N: 3, A: f32(27), W: f32(18), H: f32(54), DH: f32(54)}
	lowRank := KronParams{In: 6, Out: 9, N: 3, Rank: 2, A: f32(27), S: f32(12), T: f32(18), H: f32(54), DH: f32(54)}
	cases := []struct {
		name     string
		base     KronParams
		mod      func(p *KronParams)
		fwd, bwd error
	}{
		{"good", good, func(p *KronParams) {}, nil, nil},
		{"with grads", good, func(p *KronParams) { p.DA, p.DW = f32(27), f32(18) }, nil, nil},
		{"low rank", lowRank, func(p *KronParams) {}, nil, nil},
		{"low rank with grads", lowRank, func(p *KronParams) { p.DA, p.DS, p.DT = f32(27), f32(12), f32(18) }, nil, nil},
		{"low rank ignores W", lowRank, func(p *KronParams) { p.W = f32(1) }, nil, nil},
		{"low rank, short S", lowRank, func(p *KronParams) { p.S = f32(11) }, ErrShape, ErrShape},
		{"low rank, no T", lowRank, func(p *KronParams) { p.T = nil }, ErrShape, ErrShape},
		{"low rank, short DT", lowRank, func(p *KronParams) { p.DT = f32(17) }, nil, ErrShape},
		{"low rank, long DS", lowRank, func(p *KronParams) { p.DS = f32(13) }, nil, ErrShape},
		{"In not a multiple of N", good, func(p *KronParams) { p.In = 7 }, ErrShape, ErrShape},
		{"Out not a multiple of N", good, func(p *KronParams) { p.Out = 10 }, ErrShape, ErrShape},
		{"N = 0", good, func(p *KronParams) { p.N = 0 }, ErrShape, ErrShape},
		{"negative rank", good, func(p *KronParams) { p.Rank = -1 }, ErrShape, ErrShape},
		{"short A", good, func(p *KronParams) { p.A = f32(26) }, ErrShape, ErrShape},
		{"short W", good, func(p *KronParams) { p.W = f32(17) }, ErrShape, ErrShape},
		{"no H", good, func(p *KronParams) { p.H = nil }, ErrShape, nil},
		{"no DH", good, func(p *KronParams) { p.DH = nil }, nil, ErrShape},
		{"short DA", good, func(p *KronParams) { p.DA = f32(26) }, nil, ErrShape},
		{"Int32 DW", good, func(p *KronParams) { p.DW = i32(18) }, nil, ErrDType},
		{"Int32 A", good, func(p *KronParams) { p.A = i32(27) }, ErrDType, ErrDType},
	}
	for _, c := range cases {
		p := c.base
		c.mod(&p)
		wantErr(t, "KronSum "+c.name, p.Validate(false), c.fwd)
		wantErr(t, "KronSumBackward "+c.name, p.Validate(true), c.bwd)
	}
}

func TestPHMValidate(t *testing.T) {
	good := PHMParams{Rows: 2, In: 6, Out: 9, N: 3, A: f32(27), W: f32(18), X: f32(12), Y: f32(18), DY: f32(18)}
	lowRank := PHMParams{Rows: 2, In: 6, Out: 9, N: 3, Rank: 1, A: f32(27), S: f32(6), T: f32(9), X: f32(12), Y: f32(18), DY: f32(18)}
	cases := []struct {
		name     string
		base     PHMParams
		mod      func(p *PHMParams)
		fwd, bwd error
	}{
		{"good", good, func(p *PHMParams) {}, nil, nil},
		{"bias and all grads", good, func(p *PHMParams) {
			p.Bias, p.DX, p.DA, p.DW, p.DBias = f32(9), f32(12), f32(27), f32(18), f32(9)
		}, nil, nil},
		{"low rank", lowRank, func(p *PHMParams) { p.DS, p.DT = f32(6), f32(9) }, nil, nil},
		{"algorithms", good, func(p *PHMParams) { p.Algo = PHMMaterialize }, nil, nil},
		{"unknown algorithm", good, func(p *PHMParams) { p.Algo = PHMMaterialize + 1 }, ErrShape, ErrShape},
		{"zero rows", good, func(p *PHMParams) { p.Rows, p.X, p.Y, p.DY = 0, f32(0), f32(0), f32(0) }, nil, nil},
		{"negative rows", good, func(p *PHMParams) { p.Rows = -1 }, ErrShape, ErrShape},
		{"In not a multiple of N", good, func(p *PHMParams) { p.In = 8 }, ErrShape, ErrShape},
		{"short X", good, func(p *PHMParams) { p.X = f32(11) }, ErrShape, ErrShape},
		{"long Bias", good, func(p *PHMParams) { p.Bias = f32(10) }, ErrShape, ErrShape},
		{"no Y", good, func(p *PHMParams) { p.Y = nil }, ErrShape, nil},
		{"no DY", good, func(p *PHMParams) { p.DY = nil }, nil, ErrShape},
		{"short DX", good, func(p *PHMParams) { p.DX = f32(11) }, nil, ErrShape},
		{"short DBias", good, func(p *PHMParams) { p.DBias = f32(8) }, nil, ErrShape},
		{"short DW", good, func(p *PHMParams) { p.DW = f32(17) }, nil, ErrShape},
		{"low rank, short DS", lowRank, func(p *PHMParams) { p.DS = f32(5) }, nil, ErrShape},
		{"low rank, no S", lowRank, func(p *PHMParams) { p.S = nil }, ErrShape, ErrShape},
		{"Int32 X", good, func(p *PHMParams) { p.X = i32(12) }, ErrDType, ErrDType},
	}
	for _, c := range cases {
		p := c.base
		c.mod(&p)
		wantErr(t, "PHM "+c.name, p.Validate(false), c.fwd)
		wantErr(t, "PHMBackward "+c.name, p.Validate(true), c.bwd)
	}
	k := good.Kron()
	if k.In != 6 || k.Out != 9 || k.N != 3 || k.A == nil || k.W == nil || k.H != nil {
		t.Errorf("PHMParams.Kron() = %+v", k)
	}
}

func TestCheckPermute(t *testing.T) {
	out, err := CheckPermute(f32(120), f32(120), [4]int{2, 3, 4, 5}, [4]int{0, 2, 1, 3})
	if err != nil || out != [4]int{2, 4, 3, 5} {
		t.Errorf("CheckPermute = %v, %v", out, err)
	}
	_, err = CheckPermute(f32(120), f32(120), [4]int{2, 3, 4, 5}, [4]int{0, 2, 2, 3})
	wantErr(t, "repeated axis", err, ErrShape)
	_, err = CheckPermute(f32(120), f32(120), [4]int{2, 3, 4, 5}, [4]int{0, 1, 2, 4})
	wantErr(t, "axis 4", err, ErrShape)
	_, err = CheckPermute(f32(120), f32(120), [4]int{2, 3, 4, 5}, [4]int{-1, 1, 2, 3})
	wantErr(t, "axis -1", err, ErrShape)
	_, err = CheckPermute(f32(120), f32(120), [4]int{-2, 3, 4, -5}, [4]int{0, 1, 2, 3})
	wantErr(t, "negative dims", err, ErrShape)
	_, err = CheckPermute(f32(119), f32(120), [4]int{2, 3, 4, 5}, [4]int{0, 1, 2, 3})
	wantErr(t, "short dst", err, ErrShape)
	_, err = CheckPermute(f32(120), i32(120), [4]int{2, 3, 4, 5}, [4]int{0, 1, 2, 3})
	wantErr(t, "Int32 src", err, ErrDType)
}

func TestCheckFWHT(t *testing.T) {
	wantErr(t, "good", CheckFWHT(f32(48), 4, 3), nil)
	wantErr(t, "logN 0", CheckFWHT(f32(3), 0, 3), nil)
	wantErr(t, "wrong length", CheckFWHT(f32(47), 4, 3), ErrShape)
	wantErr(t, "negative logN", CheckFWHT(f32(1), -1, 1), ErrShape)
	wantErr(t, "logN 31", CheckFWHT(f32(1), 31, 0), ErrShape)
	wantErr(t, "negative batch", CheckFWHT(f32(0), 2, -1), ErrShape)
	wantErr(t, "Int32", CheckFWHT(i32(16), 4, 1), ErrDType)
}

// errCase is a validator's result err and the error it should wrap.
type errCase struct {
	name      string
	err, want error
}

// wantErrs runs wantErr on each case.
func wantErrs(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		wantErr(t, c.name, c.err, c.want)
	}
}

func TestCheckElementwise(t *testing.T) {
	wantErrs(t, []errCase{
		{"Binary", CheckBinary(Add, f32(5), f32(5), f32(5)), nil},
		{"Binary Mul, empty", CheckBinary(Mul, f32(0), f32(0), f32(0)), nil},
		{"Binary unknown op", CheckBinary(Mul+1, f32(5), f32(5), f32(5)), ErrShape},
		{"Binary op 0", CheckBinary(0, f32(5), f32(5), f32(5)), ErrShape},
		{"Binary nil dst", CheckBinary(Add, nil, f32(0), f32(0)), ErrShape},
		{"Binary short a", CheckBinary(Sub, f32(5), f32(4), f32(5)), ErrShape},
		{"Binary long b", CheckBinary(Sub, f32(5), f32(5), f32(6)), ErrShape},
		{"Binary Int32 b", CheckBinary(Add, f32(5), f32(5), i32(5)), ErrDType},
		{"Axpby", CheckAxpby(f32(7), f32(7)), nil},
		{"Axpby nil dst", CheckAxpby(nil, f32(7)), ErrShape},
		{"Axpby short x", CheckAxpby(f32(7), f32(6)), ErrShape},
		{"Axpby nil x", CheckAxpby(f32(7), nil), ErrShape},
		{"Axpby Int32 dst", CheckAxpby(i32(7), f32(7)), ErrDType},
		{"Scale", CheckScale(f32(3)), nil},
		{"Scale empty", CheckScale(f32(0)), nil},
		{"Scale nil", CheckScale(nil), ErrShape},
		{"Scale Int32", CheckScale(i32(3)), ErrDType},
		{"SumSquares", CheckSumSquares(f32(1), f32(9)), nil},
		{"SumSquares long dst, empty x", CheckSumSquares(f32(2), f32(0)), nil},
		{"SumSquares empty dst", CheckSumSquares(f32(0), f32(9)), ErrShape},
		{"SumSquares nil x", CheckSumSquares(f32(1), nil), ErrShape},
		{"SumSquares Int32 x", CheckSumSquares(f32(1), i32(9)), ErrDType},
		{"SumSquares Int32 dst", CheckSumSquares(i32(1), f32(9)), ErrDType},
		{"Dropout", CheckDropout(f32(4), f32(4), 0.1), nil},
		{"Dropout p 0", CheckDropout(f32(4), f32(4), 0), nil},
		{"Dropout p 1", CheckDropout(f32(4), f32(4), 1), ErrShape},
		{"Dropout negative p", CheckDropout(f32(4), f32(4), -0.1), ErrShape},
		{"Dropout NaN p", CheckDropout(f32(4), f32(4), float32(math.NaN())), ErrShape},
		{"Dropout short src", CheckDropout(f32(4), f32(3), 0.5), ErrShape},
		{"Dropout nil dst", CheckDropout(nil, f32(4), 0.5), ErrShape},
		{"Dropout Int32 src", CheckDropout(f32(4), i32(4), 0.5), ErrDType},
	})
	err := CheckBinary(Add, f32(5), f32(4), f32(5))
	if !strings.Contains(err.Error(), "binary") || !strings.Contains(err.Error(), "a has 4") {
		t.Errorf("error %q does not name the operation and the argument", err)
	}
}

func TestCheckRowsCols(t *testing.T) {
	wantErrs(t, []errCase{
		{"AddBias", CheckAddBias(f32(12), f32(4), 3, 4), nil},
		{"AddBias zero rows", CheckAddBias(f32(0), f32(4), 0, 4), nil},
		{"AddBias zero cols", CheckAddBias(f32(0), f32(0), 3, 0), nil},
		{"AddBias negative rows", CheckAddBias(f32(12), f32(4), -3, 4), ErrShape},
		{"AddBias negative cols", CheckAddBias(f32(12), f32(4), 3, -4), ErrShape},
		{"AddBias short x", CheckAddBias(f32(11), f32(4), 3, 4), ErrShape},
		{"AddBias long bias", CheckAddBias(f32(12), f32(5), 3, 4), ErrShape},
		{"AddBias nil bias", CheckAddBias(f32(12), nil, 3, 4), ErrShape},
		{"AddBias Int32 x", CheckAddBias(i32(12), f32(4), 3, 4), ErrDType},
		{"AddBias Int32 bias", CheckAddBias(f32(12), i32(4), 3, 4), ErrDType},
		{"SumRows", CheckSumRows(f32(4), f32(12), 3, 4), nil},
		{"SumRows zero rows", CheckSumRows(f32(4), f32(0), 0, 4), nil},
		{"SumRows negative rows", CheckSumRows(f32(4), f32(12), -1, 4), ErrShape},
		{"SumRows negative cols", CheckSumRows(f32(4), f32(12), 3, -1), ErrShape},
		{"SumRows short dst", CheckSumRows(f32(3), f32(12), 3, 4), ErrShape},
		{"SumRows long x", CheckSumRows(f32(4), f32(13), 3, 4), ErrShape},
		{"SumRows nil x", CheckSumRows(f32(4), nil, 3, 4), ErrShape},
		{"SumRows Int32 x", CheckSumRows(f32(4), i32(12), 3, 4), ErrDType},
		{"SumRows Int32 dst", CheckSumRows(i32(4), f32(12), 3, 4), ErrDType},
		{"SoftmaxBackward", CheckSoftmaxBackward(f32(12), f32(12), f32(12), 3, 4), nil},
		{"SoftmaxBackward zero rows", CheckSoftmaxBackward(f32(0), f32(0), f32(0), 0, 4), nil},
		{"SoftmaxBackward zero cols", CheckSoftmaxBackward(f32(0), f32(0), f32(0), 3, 0), ErrShape},
		{"SoftmaxBackward negative rows", CheckSoftmaxBackward(f32(12), f32(12), f32(12), -3, 4), ErrShape},
		{"SoftmaxBackward short dx", CheckSoftmaxBackward(f32(11), f32(12), f32(12), 3, 4), ErrShape},
		{"SoftmaxBackward long dy", CheckSoftmaxBackward(f32(12), f32(13), f32(12), 3, 4), ErrShape},
		{"SoftmaxBackward nil y", CheckSoftmaxBackward(f32(12), f32(12), nil, 3, 4), ErrShape},
		{"SoftmaxBackward Int32 y", CheckSoftmaxBackward(f32(12), f32(12), i32(12), 3, 4), ErrDType},
	})
	err := CheckAddBias(f32(12), f32(5), 3, 4)
	if !strings.Contains(err.Error(), "add bias") || !strings.Contains(err.Error(), "bias has 5") {
		t.Errorf("error %q does not name the operation and the argument", err)
	}
}

func TestCheckActivation(t *testing.T) {
	for f := ReLU; f <= Sigmoid; f++ {
		wantErr(t, "Act "+f.String(), CheckAct(f, f32(5), f32(5)), nil)
		wantErr(t, "ActBackward "+f.String(), CheckActBackward(f, f32(5), f32(5), f32(5)), nil)
	}
	wantErrs(t, []errCase{
		{"Act empty", CheckAct(GeLU, f32(0), f32(0)), nil},
		{"Act activation 0", CheckAct(0, f32(5), f32(5)), ErrShape},
		{"Act unknown activation", CheckAct(Sigmoid+1, f32(5), f32(5)), ErrShape},
		{"Act short dst", CheckAct(ReLU, f32(4), f32(5)), ErrShape},
		{"Act nil dst", CheckAct(ReLU, nil, f32(5)), ErrShape},
		{"Act nil x", CheckAct(ReLU, f32(5), nil), ErrShape},
		{"Act Int32 x", CheckAct(Tanh, f32(5), i32(5)), ErrDType},
		{"ActBackward unknown activation", CheckActBackward(Sigmoid+1, f32(5), f32(5), f32(5)), ErrShape},
		{"ActBackward short dy", CheckActBackward(SiLU, f32(5), f32(4), f32(5)), ErrShape},
		{"ActBackward long x", CheckActBackward(SiLU, f32(5), f32(5), f32(6)), ErrShape},
		{"ActBackward nil dx", CheckActBackward(SiLU, nil, f32(5), f32(5)), ErrShape},
		{"ActBackward Int32 dx", CheckActBackward(SiLU, i32(5), f32(5), f32(5)), ErrDType},
	})
	err := CheckActBackward(Activation(99), f32(5), f32(5), f32(5))
	if !strings.Contains(err.Error(), "act backward") || !strings.Contains(err.Error(), "Activation(99)") {
		t.Errorf("error %q does not name the operation and the activation", err)
	}
}

func TestCheckEmbedding(t *testing.T) {
	for _, backward := range []bool{false, true} {
		what := "Embedding"
		if backward {
			what = "EmbeddingBackward"
		}
		rows, err := CheckEmbedding(f32(12), f32(20), i32(3), 4, backward)
		if err != nil || rows != 5 {
			t.Errorf("%s: rows %d, %v, want 5", what, rows, err)
		}
		if _, err := CheckEmbedding(f32(0), f32(0), i32(0), 4, backward); err != nil {
			t.Errorf("%s of nothing: %v", what, err)
		}
		cases := []struct {
			name          string
			out, tab, ids Buffer
			dim           int
			want          error
		}{
			{"zero dim", f32(0), f32(20), i32(3), 0, ErrShape},
			{"negative dim", f32(12), f32(20), i32(3), -4, ErrShape},
			{"nil ids", f32(12), f32(20), nil, 4, ErrShape},
			{"Float32 ids", f32(12), f32(20), f32(3), 4, ErrDType},
			{"nil table", f32(12), nil, i32(3), 4, ErrShape},
			{"Int32 table", f32(12), i32(20), i32(3), 4, ErrDType},
			{"table not rows×dim", f32(12), f32(21), i32(3), 4, ErrShape},
			{"short out", f32(11), f32(20), i32(3), 4, ErrShape},
			{"long out", f32(13), f32(20), i32(3), 4, ErrShape},
			{"nil out", nil, f32(20), i32(3), 4, ErrShape},
			{"Int32 out", i32(12), f32(20), i32(3), 4, ErrDType},
		}
		for _, c := range cases {
			_, err := CheckEmbedding(c.out, c.tab, c.ids, c.dim, backward)
			wantErr(t, what+" "+c.name, err, c.want)
		}
		_, err = CheckEmbedding(f32(11), f32(21), i32(3), 4, backward)
		tab, out := "table", "dst"
		if backward {
			tab, out = "dtable", "dout"
		}
		if !strings.Contains(err.Error(), tab) {
			t.Errorf("%s: error %q does not name %s", what, err, tab)
		}
		_, err = CheckEmbedding(f32(11), f32(20), i32(3), 4, backward)
		if !strings.Contains(err.Error(), out) {
			t.Errorf("%s: error %q does not name %s", what, err, out)
		}
		wantErr(t, what+" ids in range", CheckEmbeddingIDs([]int32{0, 4, 2, 4}, 5, backward), nil)
		wantErr(t, what+" no ids", CheckEmbeddingIDs(nil, 0, backward), nil)
		wantErr(t, what+" id = rows", CheckEmbeddingIDs([]int32{0, 5}, 5, backward), ErrShape)
		wantErr(t, what+" negative id", CheckEmbeddingIDs([]int32{-1}, 5, backward), ErrShape)
		err = CheckEmbeddingIDs([]int32{1, 7}, 5, backward)
		if !strings.Contains(err.Error(), "ids[1] = 7") || strings.Contains(err.Error(), "backward") != backward {
			t.Errorf("%s: error %q does not name the operation and the id", what, err)
		}
	}
}

func TestCrossEntropyCheckLabels(t *testing.T) {
	p := CrossEntropyParams{Rows: 4, Vocab: 5, IgnoreIndex: -100}
	wantErr(t, "labels in range", p.CheckLabels([]int32{0, 4, -100, 2}), nil)
	wantErr(t, "no labels", p.CheckLabels(nil), nil)
	wantErr(t, "label = vocab", p.CheckLabels([]int32{0, 5}), ErrShape)
	wantErr(t, "negative label", p.CheckLabels([]int32{-1}), ErrShape)
	p.IgnoreIndex = 5
	wantErr(t, "ignore index outside [0, vocab)", p.CheckLabels([]int32{5, 1}), nil)
	wantErr(t, "-100 not ignored", p.CheckLabels([]int32{-100}), ErrShape)
	err := p.CheckLabels([]int32{1, 2, 9})
	if !strings.Contains(err.Error(), "cross-entropy") || !strings.Contains(err.Error(), "label[2] = 9") {
		t.Errorf("error %q does not name the operation and the label", err)
	}
}
