package kron

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/compacter-go/compacter/kernels"
)

// f32 returns the row-major float32 elements of t (a copy when t is a view
// or transposed) after checking its shape against want (-1 matches any
// size). A nil t gives nil.
func f32(op, name string, t *tensor.Dense, want ...int) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
	if t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("kron: %s: %s is %v, want float32: %w", op, name, t.Dtype(), kernels.ErrDType)
	}
	shape := t.Shape()
	ok := len(shape) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = want[i] < 0 || shape[i] == want[i]
	}
	if !ok {
		return nil, shapeErr(op, "%s has shape %v, want %v", name, shape, want)
	}
	if t.IsMaterializable() || !t.DataOrder().IsRowMajor() {
		t = t.Materialize().(*tensor.Dense)
	}
	switch d := t.Data().(type) {
	case []float32:
		return d, nil
	case float32:
		return []float32{d}, nil
	}
	return nil, fmt.Errorf("kron: %s: %s has no float32 data: %w", op, name, kernels.ErrDType)
}

func dense(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// KronDense returns the Kronecker product of the matrices a and b.
func KronDense(a, b *tensor.Dense) (*tensor.Dense, error) {
	if a == nil || b == nil || a.Dims() != 2 || b.Dims() != 2 {
		return nil, shapeErr("kron", "want two matrices")
	}
	ar, ac, br, bc := a.Shape()[0], a.Shape()[1], b.Shape()[0], b.Shape()[1]
	ad, err := f32("kron", "a", a, ar, ac)
	if err != nil {
		return nil, err
	}
	bd, err := f32("kron", "b", b, br, bc)
	if err != nil {
		return nil, err
	}
	h, err := Kron(ad, ar, ac, bd, br, bc)
	if err != nil {
		return nil, err
	}
	return dense(h, ar*br, ac*bc), nil
}

// SumKronDense returns Σᵢ kron(a[i], b[i]) for a of shape [k, ar, ac] and b
// of shape [k, br, bc].
func SumKronDense(a, b *tensor.Dense) (*tensor.Dense, error) {
	if a == nil || b == nil || a.Dims() != 3 || b.Dims() != 3 || a.Shape()[0] != b.Shape()[0] {
		return nil, shapeErr("sumkron", "want a [k, ar, ac] and b [k, br, bc]")
	}
	k, ar, ac, br, bc := a.Shape()[0], a.Shape()[1], a.Shape()[2], b.Shape()[1], b.Shape()[2]
	ad, err := f32("sumkron", "a", a, k, ar, ac)
	if err != nil {
		return nil, err
	}
	bd, err := f32("sumkron", "b", b, k, br, bc)
	if err != nil {
		return nil, err
	}
	h, err := SumKron(k, ad, ar, ac, bd, br, bc)
	if err != nil {
		return nil, err
	}
	return dense(h, ar*br, ac*bc), nil
}

// DenseWeights are Weights as tensors: A [N,N,N], W [N, In/N, Out/N] (PHM),
// S [N, In/N, Rank] and T [N, Rank, Out/N] (LPHM), Bias [Out] or nil.
type DenseWeights struct {
	A, W, S, T, Bias *tensor.Dense
}

// DenseGrads are the gradients BackwardDense returns, with the shapes of
// the inputs they belong to (X like x; W, or S and T, by the layer's kind).
type DenseGrads struct {
	X, A, W, S, T, Bias *tensor.Dense
}

func (l Layer) weights(op string, w DenseWeights) (Weights, error) {
	var out Weights
	var err error
	if err = l.Validate(); err != nil {
		return out, err
	}
	p, q := l.In/l.N, l.Out/l.N
	if out.A, err = f32(op, "A", w.A, l.N, l.N, l.N); err != nil {
		return out, err
	}
	if out.A == nil {
		return out, shapeErr(op, "A is nil")
	}
	if l.Rank > 0 {
		if out.S, err = f32(op, "S", w.S, l.N, p, l.Rank); err != nil {
			return out, err
		}
		if out.T, err = f32(op, "T", w.T, l.N, l.Rank, q); err != nil {
			return out, err
		}
		if out.S == nil || out.T == nil {
			return out, shapeErr(op, "a low-rank layer needs S and T")
		}
	} else {
		if out.W, err = f32(op, "W", w.W, l.N, p, q); err != nil {
			return out, err
		}
		if out.W == nil {
			return out, shapeErr(op, "W is nil")
		}
	}
	out.Bias, err = f32(op, "Bias", w.Bias, l.Out)
	return out, err
}

// rowsOf checks that x has last dimension d and returns its row count (the
// product of the other dimensions) and elements.
func rowsOf(op, name string, x *tensor.Dense, d int) (int, []float32, error) {
	if x == nil || x.Dims() < 1 || x.Shape()[x.Dims()-1] != d {
		var s tensor.Shape
		if x != nil {
			s = x.Shape()
		}
		return 0, nil, shapeErr(op, "%s has shape %v, want [..., %d]", name, s, d)
	}
	want := make([]int, x.Dims())
	for i := range want {
		want[i] = -1
	}
	data, err := f32(op, name, x, want...)
	if err != nil {
		return 0, nil, err
	}
	return len(data) / d, data, nil
}

// HDense materialises the layer's weight as an [In, Out] tensor.
func (l Layer) HDense(w DenseWeights) (*tensor.Dense, error) {
	ws, err := l.weights("h", w)
	if err != nil {
		return nil, err
	}
	h, err := l.H(ws)
	if err != nil {
		return nil, err
	}
	return dense(h, l.In, l.Out), nil
}

// ForwardDense returns y = x·H + Bias for x of shape [..., In]; y has shape
// [..., Out].
func (l Layer) ForwardDense(x *tensor.Dense, w DenseWeights) (*tensor.Dense, error) {
	ws, err := l.weights("forward", w)
	if err != nil {
		return nil, err
	}
	rows, xd, err := rowsOf("forward", "x", x, l.In)
	if err != nil {
		return nil, err
	}
	y := make([]float32, rows*l.Out)
	if err := l.Forward(rows, xd, ws, y); err != nil {
		return nil, err
	}
	shape := append([]int(nil), x.Shape()...)
	shape[len(shape)-1] = l.Out
	return dense(y, shape...), nil
}

// BackwardDense returns the gradients of ForwardDense(x, w) from dy (the
// shape of y): those of x, of the weights of the layer's kind, and of the
// bias when w.Bias is set.
func (l Layer) BackwardDense(x, dy *tensor.Dense, w DenseWeights) (DenseGrads, error) {
	var g DenseGrads
	ws, err := l.weights("backward", w)
	if err != nil {
		return g, err
	}
	rows, xd, err := rowsOf("backward", "x", x, l.In)
	if err != nil {
		return g, err
	}
	drows, dyd, err := rowsOf("backward", "dy", dy, l.Out)
	if err != nil {
		return g, err
	}
	if drows != rows {
		return g, shapeErr("backward", "dy has %d rows, x has %d", drows, rows)
	}
	na, nw, ns, nt := l.Sizes()
	gs := Grads{A: make([]float32, na)}
	if l.Rank > 0 {
		gs.S, gs.T = make([]float32, ns), make([]float32, nt)
	} else {
		gs.W = make([]float32, nw)
	}
	if ws.Bias != nil {
		gs.Bias = make([]float32, l.Out)
	}
	dx := make([]float32, len(xd))
	if err := l.Backward(rows, xd, dyd, ws, dx, gs); err != nil {
		return g, err
	}
	p, q := l.In/l.N, l.Out/l.N
	g.X = dense(dx, x.Shape()...)
	g.A = dense(gs.A, l.N, l.N, l.N)
	if l.Rank > 0 {
		g.S, g.T = dense(gs.S, l.N, p, l.Rank), dense(gs.T, l.N, l.Rank, q)
	} else {
		g.W = dense(gs.W, l.N, p, q)
	}
	if gs.Bias != nil {
		g.Bias = dense(gs.Bias, l.Out)
	}
	return g, nil
}
