package kron

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gorgonia.org/tensor"

	"github.com/compacter-go/compacter/kernels"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func f64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

func relErr(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	if e := math.Sqrt(num / den); !(e <= tol) {
		t.Fatalf("%s: relative error %g > %g", what, e, tol)
	}
}

// refH is Σᵢ kron(A[i], W[i]) in float64 with gonum.
func refH(l Layer, w Weights) *mat.Dense {
	p, q := l.In/l.N, l.Out/l.N
	h := mat.NewDense(l.In, l.Out, nil)
	for i := 0; i < l.N; i++ {
		var wi mat.Dense
		if l.Rank > 0 {
			wi.Mul(mat.NewDense(p, l.Rank, f64(w.S[i*p*l.Rank:(i+1)*p*l.Rank])), mat.NewDense(l.Rank, q, f64(w.T[i*l.Rank*q:(i+1)*l.Rank*q])))
		} else {
			wi.CloneFrom(mat.NewDense(p, q, f64(w.W[i*p*q:(i+1)*p*q])))
		}
		var k mat.Dense
		k.Kronecker(mat.NewDense(l.N, l.N, f64(w.A[i*l.N*l.N:(i+1)*l.N*l.N])), &wi)
		h.Add(h, &k)
	}
	return h
}

func randWeights(rng *rand.Rand, l Layer) Weights {
	na, nw, ns, nt := l.Sizes()
	w := Weights{A: randSlice(rng, na), Bias: randSlice(rng, l.Out)}
	if nw > 0 {
		w.W = randSlice(rng, nw)
	} else {
		w.S, w.T = randSlice(rng, ns), randSlice(rng, nt)
	}
	return w
}

func TestKron(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := randSlice(rng, 2*3), randSlice(rng, 4*5)
	got, err := Kron(a, 2, 3, b, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	var want mat.Dense
	want.Kronecker(mat.NewDense(2, 3, f64(a)), mat.NewDense(4, 5, f64(b)))
	relErr(t, "Kron", got, want.RawMatrix().Data, 1e-7)
	if _, err := Kron(a, 2, 2, b, 4, 5); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("wrong size: %v, want ErrShape", err)
	}
	if _, err := SumKron(0, a, 2, 3, b, 4, 5); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("k = 0: %v, want ErrShape", err)
	}
}

// TestLayer checks Forward, Backward (against y = x·H + b and its
// gradients in float64) and H/HBackward for PHM and LPHM, each algorithm.
func TestLayer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, l := range []Layer{{In: 12, Out: 9, N: 3}, {In: 20, Out: 8, N: 4, Rank: 2}, {In: 7, Out: 5, N: 1, Rank: 1}} {
		w := randWeights(rng, l)
		const rows = 5
		x, dy := randSlice(rng, rows*l.In), randSlice(rng, rows*l.Out)
		h := refH(l, w)
		var y, dx mat.Dense
		y.Mul(mat.NewDense(rows, l.In, f64(x)), h)
		for r := 0; r < rows; r++ {
			for j := 0; j < l.Out; j++ {
				y.Set(r, j, y.At(r, j)+float64(w.Bias[j]))
			}
		}
		dx.Mul(mat.NewDense(rows, l.Out, f64(dy)), h.T())
		hs, err := l.H(w)
		if err != nil {
			t.Fatal(err)
		}
		relErr(t, "H", hs, h.RawMatrix().Data, 1e-6)
		var gH Grads
		na, nw, ns, nt := l.Sizes()
		gH.A, gH.W, gH.S, gH.T = make([]float32, na), make([]float32, nw), make([]float32, ns), make([]float32, nt)
		var dh mat.Dense
		dh.Mul(mat.NewDense(rows, l.In, f64(x)).T(), mat.NewDense(rows, l.Out, f64(dy)))
		dh32 := make([]float32, l.In*l.Out)
		for i, v := range dh.RawMatrix().Data {
			dh32[i] = float32(v)
		}
		if err := l.HBackward(w, dh32, gH); err != nil {
			t.Fatal(err)
		}
		for _, algo := range []Algo{Auto, Fused, Materialize} {
			l.Algo = algo
			ys := make([]float32, rows*l.Out)
			if err := l.Forward(rows, x, w, ys); err != nil {
				t.Fatal(err)
			}
			relErr(t, "Forward", ys, y.RawMatrix().Data, 1e-5)
			g := Grads{A: make([]float32, na), W: make([]float32, nw), S: make([]float32, ns), T: make([]float32, nt), Bias: make([]float32, l.Out)}
			dxs := make([]float32, rows*l.In)
			if err := l.Backward(rows, x, dy, w, dxs, g); err != nil {
				t.Fatal(err)
			}
			relErr(t, "dx", dxs, dx.RawMatrix().Data, 1e-5)
			// The weight gradients through the layer equal those through
			// H with dH = xᵀ·dy.
			relErr(t, "dA", g.A, f64(gH.A), 1e-5)
			if l.Rank > 0 {
				relErr(t, "dS", g.S, f64(gH.S), 1e-5)
				relErr(t, "dT", g.T, f64(gH.T), 1e-5)
			} else {
				relErr(t, "dW", g.W, f64(gH.W), 1e-5)
			}
			db := make([]float64, l.Out)
			for r := 0; r < rows; r++ {
				for j := range db {
					db[j] += float64(dy[r*l.Out+j])
				}
			}
			relErr(t, "dBias", g.Bias, db, 1e-6)
		}
	}
}

func TestLayerErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	l := Layer{In: 8, Out: 4, N: 2, Rank: 1}
	w := randWeights(rng, l)
	x, y := randSlice(rng, 3*8), make([]float32, 3*4)
	for _, bad := range []Layer{{In: 9, Out: 4, N: 2, Rank: 1}, {In: 8, Out: 4, N: 0}, {In: 8, Out: 4, N: 2, Rank: -1}, {In: 8, Out: 4, N: 2, Algo: 7}} {
		if err := bad.Forward(3, x, w, y); !errors.Is(err, kernels.ErrShape) {
			t.Errorf("%+v: %v, want ErrShape", bad, err)
		}
	}
	if err := l.Forward(3, x[1:], w, y); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("short x: %v, want ErrShape", err)
	}
	if err := l.Backward(3, x, y[:5], w, nil, Grads{}); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("short dy: %v, want ErrShape", err)
	}
	if got := l.NumParams(); got != 8+8+4 {
		t.Errorf("NumParams = %d, want 20", got)
	}
	if Choose(1024, 768, 24, 4, 1) != Fused || l.Choose(1) == Auto {
		t.Error("Choose: want Fused for a Compacter adapter, never Auto")
	}
	if !(Cost(Fused, 1024, 768, 24, 4, 1) > 0) {
		t.Error("Cost not positive")
	}
}

func TestDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	l := Layer{In: 12, Out: 8, N: 4, Rank: 1}
	w := randWeights(rng, l)
	dw := DenseWeights{A: dense(w.A, 4, 4, 4), S: dense(w.S, 4, 3, 1), T: dense(w.T, 4, 1, 2), Bias: dense(w.Bias, 8)}
	x := randSlice(rng, 2*3*12)
	xt := dense(append([]float32(nil), x...), 2, 3, 12)
	y, err := l.ForwardDense(xt, dw)
	if err != nil {
		t.Fatal(err)
	}
	if !y.Shape().Eq(tensor.Shape{2, 3, 8}) {
		t.Fatalf("y shape %v", y.Shape())
	}
	want := make([]float32, 6*8)
	if err := l.Forward(6, x, w, want); err != nil {
		t.Fatal(err)
	}
	relErr(t, "ForwardDense", y.Data().([]float32), f64(want), 0)

	dy := dense(randSlice(rng, 6*8), 2, 3, 8)
	g, err := l.BackwardDense(xt, dy, dw)
	if err != nil {
		t.Fatal(err)
	}
	if !g.X.Shape().Eq(tensor.Shape{2, 3, 12}) || !g.S.Shape().Eq(tensor.Shape{4, 3, 1}) || !g.T.Shape().Eq(tensor.Shape{4, 1, 2}) || g.W != nil || g.Bias == nil {
		t.Fatalf("gradient shapes X %v S %v T %v", g.X.Shape(), g.S.Shape(), g.T.Shape())
	}

	// H through tensors equals H through slices; a transposed view is read
	// in its logical order.
	h, err := l.HDense(dw)
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := l.H(w)
	relErr(t, "HDense", h.Data().([]float32), f64(hs), 0)
	a := dense(randSlice(rng, 6), 2, 3)
	b := dense(randSlice(rng, 6), 3, 2)
	at := a.Clone().(*tensor.Dense)
	if err := at.T(); err != nil {
		t.Fatal(err)
	}
	k1, err := KronDense(at, b)
	if err != nil {
		t.Fatal(err)
	}
	atm := at.Materialize().(*tensor.Dense)
	k2, err := KronDense(atm, b)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Shape().Eq(tensor.Shape{9, 4}) {
		t.Fatalf("kron shape %v", k1.Shape())
	}
	relErr(t, "KronDense of a transposed view", k1.Data().([]float32), f64(k2.Data().([]float32)), 0)
	s, err := SumKronDense(dense(w.A, 4, 4, 4), dense(w.S, 4, 3, 1))
	if err != nil || !s.Shape().Eq(tensor.Shape{12, 4}) {
		t.Fatalf("SumKronDense: %v %v", s, err)
	}

	// Errors.
	if _, err := l.ForwardDense(dense(x[:2*3*8], 6, 8), dw); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("x [6, 8]: %v, want ErrShape", err)
	}
	bad := dw
	bad.S = dense(w.S, 4, 1, 3)
	if _, err := l.ForwardDense(xt, bad); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("S [4,1,3]: %v, want ErrShape", err)
	}
	bad = dw
	bad.A = tensor.New(tensor.WithShape(4, 4, 4), tensor.WithBacking(make([]float64, 64)))
	if _, err := l.ForwardDense(xt, bad); !errors.Is(err, kernels.ErrDType) {
		t.Errorf("float64 A: %v, want ErrDType", err)
	}
	if _, err := l.BackwardDense(xt, dense(make([]float32, 5*8), 5, 8), dw); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("dy rows: %v, want ErrShape", err)
	}
	if _, err := KronDense(dense(w.A, 64), b); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("KronDense of a vector: %v, want ErrShape", err)
	}
}
