package cpu

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/compacter-go/compacter/kernels"
)

// kronRef64 is a PHM/LPHM layer in float64, the reference of the tests,
// written from the formulas: H = Σᵢ kron(A[i], W[i]) with gonum's
// Kronecker product, y = x·H + b.
type kronRef64 struct {
	in, out, n, rank int
	a, w, s, t, b    []float64
}

func kronF64(s []float32) []float64 {
	if s == nil {
		return nil
	}
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// weights returns W[i] (W[i] = S[i]·T[i] for LPHM) as gonum matrices.
func (l *kronRef64) weights() []*mat.Dense {
	p, q := l.in/l.n, l.out/l.n
	ws := make([]*mat.Dense, l.n)
	for i := range ws {
		if l.rank == 0 {
			ws[i] = mat.NewDense(p, q, append([]float64(nil), l.w[i*p*q:(i+1)*p*q]...))
			continue
		}
		s := mat.NewDense(p, l.rank, append([]float64(nil), l.s[i*p*l.rank:(i+1)*p*l.rank]...))
		t := mat.NewDense(l.rank, q, append([]float64(nil), l.t[i*l.rank*q:(i+1)*l.rank*q]...))
		ws[i] = mat.NewDense(p, q, nil)
		ws[i].Mul(s, t)
	}
	return ws
}

func (l *kronRef64) h() *mat.Dense {
	h := mat.NewDense(l.in, l.out, nil)
	var k mat.Dense
	for i, w := range l.weights() {
		ai := mat.NewDense(l.n, l.n, append([]float64(nil), l.a[i*l.n*l.n:(i+1)*l.n*l.n]...))
		k.Kronecker(ai, w)
		h.Add(h, &k)
	}
	return h
}

func (l *kronRef64) forward(rows int, x []float64) []float64 {
	y := mat.NewDense(rows, l.out, nil)
	y.Mul(mat.NewDense(rows, l.in, x), l.h())
	out := y.RawMatrix().Data
	if l.b != nil {
		for r := 0; r < rows; r++ {
			for j := range l.b {
				out[r*l.out+j] += l.b[j]
			}
		}
	}
	return out
}

// kronGrads64 are the exact gradients of Σ y⊙dy.
type kronGrads64 struct{ dx, da, dw, ds, dt, db []float64 }

func (l *kronRef64) backward(rows int, x, dy []float64) kronGrads64 {
	n, p, q := l.n, l.in/l.n, l.out/l.n
	X, DY := mat.NewDense(rows, l.in, x), mat.NewDense(rows, l.out, dy)
	var g kronGrads64
	var dx, dh mat.Dense
	dx.Mul(DY, l.h().T())
	g.dx = dx.RawMatrix().Data
	dh.Mul(X.T(), DY)
	ws := l.weights()
	g.da = make([]float64, n*n*n)
	dW := make([]*mat.Dense, n)
	for i := 0; i < n; i++ {
		dW[i] = mat.NewDense(p, q, nil)
		for a := 0; a < n; a++ {
			for c := 0; c < n; c++ {
				blk := dh.Slice(a*p, (a+1)*p, c*q, (c+1)*q)
				var e mat.Dense
				e.MulElem(blk, ws[i])
				g.da[(i*n+a)*n+c] = mat.Sum(&e)
				var sc mat.Dense
				sc.Scale(l.a[(i*n+a)*n+c], blk)
				dW[i].Add(dW[i], &sc)
			}
		}
	}
	for i := 0; i < n; i++ {
		if l.rank == 0 {
			g.dw = append(g.dw, dW[i].RawMatrix().Data...)
			continue
		}
		s := mat.NewDense(p, l.rank, l.s[i*p*l.rank:(i+1)*p*l.rank])
		t := mat.NewDense(l.rank, q, l.t[i*l.rank*q:(i+1)*l.rank*q])
		var ds, dt mat.Dense
		ds.Mul(dW[i], t.T())
		dt.Mul(s.T(), dW[i])
		g.ds = append(g.ds, ds.RawMatrix().Data...)
		g.dt = append(g.dt, dt.RawMatrix().Data...)
	}
	g.db = make([]float64, l.out)
	for r := 0; r < rows; r++ {
		for j := 0; j < l.out; j++ {
			g.db[j] += dy[r*l.out+j]
		}
	}
	return g
}

// kronCase holds a random layer in float32 and its float64 twin.
type kronCase struct {
	rows int
	args PHMArgs
	ref  kronRef64
}

func newKronCase(rng *rand.Rand, rows, in, out, n, rank int, bias bool) *kronCase {
	p, q := in/n, out/n
	c := &kronCase{rows: rows}
	a := PHMArgs{Rows: rows, In: in, Out: out, N: n, Rank: rank}
	a.X = kronRand(rng, rows*in)
	a.A = kronRand(rng, n*n*n)
	if rank == 0 {
		a.W = kronRand(rng, n*p*q)
	} else {
		a.S = kronRand(rng, n*p*rank)
		a.T = kronRand(rng, n*rank*q)
	}
	if bias {
		a.Bias = kronRand(rng, out)
	}
	c.args = a
	c.ref = kronRef64{in: in, out: out, n: n, rank: rank, a: kronF64(a.A), w: kronF64(a.W), s: kronF64(a.S), t: kronF64(a.T), b: kronF64(a.Bias)}
	return c
}

func kronCheckRel(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	if e := kronRelErr(got, want); e > tol || math.IsNaN(e) {
		t.Fatalf("%s: relative error %g > %g", what, e, tol)
	}
}

// kronCheckAcc checks an accumulated gradient got = base + k·d, with the error
// relative to ‖base‖ + k·‖d‖ (the sum may cancel).
func kronCheckAcc(t *testing.T, what string, got, base []float32, k float64, d []float64, tol float64) {
	t.Helper()
	var num, nb, nd float64
	for i := range d {
		e := float64(got[i]) - (float64(base[i]) + k*d[i])
		num += e * e
		nb += float64(base[i]) * float64(base[i])
		nd += d[i] * d[i]
	}
	if e := math.Sqrt(num) / (math.Sqrt(nb) + k*math.Sqrt(nd)); e > tol || math.IsNaN(e) {
		t.Fatalf("%s: relative error %g > %g", what, e, tol)
	}
}

type kronFlavour struct {
	name string
	ctx  kronCtx
	algo kernels.PHMAlgo
}

func kronFlavours() []kronFlavour {
	var fl []kronFlavour
	for _, simd := range []bool{false, true} {
		if simd && !hasAVX2FMA {
			continue
		}
		for _, algo := range []kernels.PHMAlgo{kernels.PHMFused, kernels.PHMMaterialize, kernels.PHMAuto} {
			for _, th := range []int{1, 3} {
				fl = append(fl, kronFlavour{fmt.Sprintf("simd=%v/%v/threads=%d", simd, algo, th), kronCtx{simd: simd, threads: th}, algo})
			}
		}
	}
	return fl
}

// TestPHMAgainstFloat64 runs every algorithm and kernel flavour on awkward
// shapes against the float64 reference: forward, backward with
// accumulation into non-zero gradients, and a second backward call.
func TestPHMAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type shape struct{ in, out, n int }
	shapes := []shape{{5, 3, 1}, {6, 10, 2}, {9, 15, 3}, {12, 20, 4}, {20, 12, 4}, {40, 24, 8}, {36, 60, 12}, {132, 36, 12}, {52, 4, 4}}
	if !testing.Short() {
		shapes = append(shapes, shape{264, 40, 8}, shape{24, 264, 4})
	}
	rowsList := []int{1, 7, 13}
	const tol = 2e-5
	for _, sh := range shapes {
		for _, rank := range []int{0, 1, 2, 3} {
			for ri, rows := range rowsList {
				c := newKronCase(rng, rows, sh.in, sh.out, sh.n, rank, ri != 1)
				x64 := kronF64(c.args.X)
				wantY := c.ref.forward(rows, x64)
				dy := kronRand(rng, rows*sh.out)
				g := c.ref.backward(rows, x64, kronF64(dy))
				for _, fl := range kronFlavours() {
					name := fmt.Sprintf("in=%d out=%d n=%d rank=%d rows=%d %s", sh.in, sh.out, sh.n, rank, rows, fl.name)
					a := c.args
					a.Algo = fl.algo
					a.Y = make([]float32, rows*sh.out)
					for i := range a.Y {
						a.Y[i] = float32(math.NaN())
					}
					fl.ctx.phm(&a, false)
					kronCheckRel(t, name+" Y", a.Y, wantY, tol)

					a.DY = dy
					a.DX = make([]float32, rows*sh.in)
					for i := range a.DX {
						a.DX[i] = float32(math.NaN())
					}
					a.DA = kronRand(rng, len(a.A))
					if rank == 0 {
						a.DW = kronRand(rng, len(a.W))
					} else {
						a.DS = kronRand(rng, len(a.S))
						a.DT = kronRand(rng, len(a.T))
					}
					if a.Bias != nil {
						a.DBias = kronRand(rng, sh.out)
					}
					da0, dw0, ds0, dt0, db0 := kronClone(a.DA), kronClone(a.DW), kronClone(a.DS), kronClone(a.DT), kronClone(a.DBias)
					for call := 1; call <= 2; call++ {
						fl.ctx.phm(&a, true)
						k := float64(call)
						what := fmt.Sprintf("%s call %d ", name, call)
						kronCheckRel(t, what+"DX", a.DX, g.dx, tol)
						kronCheckAcc(t, what+"DA", a.DA, da0, k, g.da, tol)
						if rank == 0 {
							kronCheckAcc(t, what+"DW", a.DW, dw0, k, g.dw, tol)
						} else {
							kronCheckAcc(t, what+"DS", a.DS, ds0, k, g.ds, tol)
							kronCheckAcc(t, what+"DT", a.DT, dt0, k, g.dt, tol)
						}
						if a.Bias != nil {
							kronCheckAcc(t, what+"DBias", a.DBias, db0, k, g.db, tol)
						}
					}
				}
			}
		}
	}
}

func kronClone(s []float32) []float32 {
	if s == nil {
		return nil
	}
	return append([]float32(nil), s...)
}

// TestPHMPartialGrads checks that nil gradients are skipped and the others
// still right (each requested alone).
func TestPHMPartialGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, rank := range []int{0, 2} {
		c := newKronCase(rng, 11, 24, 36, 3, rank, true)
		dy := kronRand(rng, 11*36)
		g := c.ref.backward(11, kronF64(c.args.X), kronF64(dy))
		for _, algo := range []kernels.PHMAlgo{kernels.PHMFused, kernels.PHMMaterialize} {
			for which := 0; which < 5; which++ {
				a := c.args
				a.Algo, a.DY = algo, dy
				var got []float32
				var want []float64
				switch which {
				case 0:
					a.DX = make([]float32, len(a.X))
					got, want = a.DX, g.dx
				case 1:
					a.DA = make([]float32, len(a.A))
					got, want = a.DA, g.da
				case 2:
					if rank == 0 {
						a.DW = make([]float32, len(a.W))
						got, want = a.DW, g.dw
					} else {
						a.DS = make([]float32, len(a.S))
						got, want = a.DS, g.ds
					}
				case 3:
					if rank == 0 {
						continue
					}
					a.DT = make([]float32, len(a.T))
					got, want = a.DT, g.dt
				case 4:
					a.DBias = make([]float32, a.Out)
					got, want = a.DBias, g.db
				}
				kronDefault.phm(&a, true)
				kronCheckRel(t, fmt.Sprintf("rank %d %v grad %d alone", rank, algo, which), got, want, 2e-5)
			}
		}
	}
}

// TestPHMReferenceFiniteDifferences checks the float64 reference's
// analytic gradients (which the float32 kernels are held to) by central
// differences of the float64 forward, and the float32 gradients by central
// differences of the float32 forward with a loose tolerance.
func TestPHMReferenceFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, rank := range []int{0, 2} {
		const rows, in, out, n = 3, 6, 9, 3
		c := newKronCase(rng, rows, in, out, n, rank, true)
		x := kronF64(c.args.X)
		dy := kronRand(rng, rows*out)
		dy64 := kronF64(dy)
		g := c.ref.backward(rows, x, dy64)
		loss := func() float64 {
			y := c.ref.forward(rows, x)
			var s float64
			for i, v := range y {
				s += v * dy64[i]
			}
			return s
		}
		params := []struct {
			name string
			v    []float64
			g    []float64
		}{{"x", x, g.dx}, {"A", c.ref.a, g.da}, {"b", c.ref.b, g.db}}
		if rank == 0 {
			params = append(params, struct {
				name string
				v    []float64
				g    []float64
			}{"W", c.ref.w, g.dw})
		} else {
			params = append(params, struct {
				name string
				v    []float64
				g    []float64
			}{"S", c.ref.s, g.ds}, struct {
				name string
				v    []float64
				g    []float64
			}{"T", c.ref.t, g.dt})
		}
		const h = 1e-6
		for _, p := range params {
			for i := range p.v {
				old := p.v[i]
				p.v[i] = old + h
				lp := loss()
				p.v[i] = old - h
				lm := loss()
				p.v[i] = old
				fd := (lp - lm) / (2 * h)
				if d := math.Abs(fd - p.g[i]); d > 1e-6*(1+math.Abs(fd)) {
					t.Fatalf("rank %d: d%s[%d] analytic %g, finite difference %g", rank, p.name, i, p.g[i], fd)
				}
			}
		}

		// float32: fused kernels against central differences of their own
		// forward (h = 1e-2, loose tolerance).
		a := c.args
		a.Algo = kernels.PHMFused
		a.DY = dy
		a.DA = make([]float32, len(a.A))
		kronDefault.phm(&a, true)
		loss32 := func() float64 {
			b := a
			b.Y = make([]float32, rows*out)
			kronDefault.phm(&b, false)
			var s float64
			for i, v := range b.Y {
				s += float64(v) * dy64[i]
			}
			return s
		}
		for i := range a.A {
			old := a.A[i]
			a.A[i] = old + 1e-2
			lp := loss32()
			a.A[i] = old - 1e-2
			lm := loss32()
			a.A[i] = old
			fd := (lp - lm) / 2e-2
			if d := math.Abs(fd - float64(a.DA[i])); d > 2e-2*(1+math.Abs(fd)) {
				t.Fatalf("rank %d float32: dA[%d] analytic %g, finite difference %g", rank, i, a.DA[i], fd)
			}
		}
	}
}

// TestKronSumAgainstFloat64 checks KronSum and KronSumBackward (and the
// general SumKron) against gonum's Kronecker product.
func TestKronSumAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][3]int{{4, 4, 1}, {6, 10, 2}, {9, 21, 3}, {40, 24, 8}, {36, 12, 12}} {
		for _, rank := range []int{0, 1, 3} {
			c := newKronCase(rng, 1, sh[0], sh[1], sh[2], rank, false)
			want := c.ref.h().RawMatrix().Data
			dh := kronRand(rng, sh[0]*sh[1])
			// dH as the gradient of y = x·H with rows = in, x = I.
			eye := make([]float64, sh[0]*sh[0])
			for i := 0; i < sh[0]; i++ {
				eye[i*sh[0]+i] = 1
			}
			g := c.ref.backward(sh[0], eye, kronF64(dh))
			for _, simd := range []bool{false, hasAVX2FMA} {
				ctx := kronCtx{simd: simd, threads: 2}
				k := KronArgs{In: sh[0], Out: sh[1], N: sh[2], Rank: rank, A: c.args.A, W: c.args.W, S: c.args.S, T: c.args.T,
					H: make([]float32, sh[0]*sh[1])}
				ctx.kronSum(&k)
				name := fmt.Sprintf("%v rank %d simd=%v", sh, rank, simd)
				kronCheckRel(t, name+" H", k.H, want, 1e-6)
				k.DH = dh
				k.DA = make([]float32, len(c.args.A))
				if rank == 0 {
					k.DW = make([]float32, len(c.args.W))
				} else {
					k.DS, k.DT = make([]float32, len(c.args.S)), make([]float32, len(c.args.T))
				}
				ctx.kronSumBackward(&k)
				kronCheckRel(t, name+" DA", k.DA, g.da, 1e-5)
				if rank == 0 {
					kronCheckRel(t, name+" DW", k.DW, g.dw, 1e-5)
				} else {
					kronCheckRel(t, name+" DS", k.DS, g.ds, 1e-5)
					kronCheckRel(t, name+" DT", k.DT, g.dt, 1e-5)
				}
			}
		}
	}
	// General SumKron: rectangular factors.
	const k, ar, ac, br, bc = 3, 2, 5, 3, 4
	a, b := kronRand(rng, k*ar*ac), kronRand(rng, k*br*bc)
	h := make([]float32, ar*br*ac*bc)
	if err := SumKron(k, ar, ac, br, bc, a, b, h); err != nil {
		t.Fatal(err)
	}
	want := mat.NewDense(ar*br, ac*bc, nil)
	for i := 0; i < k; i++ {
		var kr mat.Dense
		kr.Kronecker(mat.NewDense(ar, ac, kronF64(a[i*ar*ac:(i+1)*ar*ac])), mat.NewDense(br, bc, kronF64(b[i*br*bc:(i+1)*br*bc])))
		want.Add(want, &kr)
	}
	kronCheckRel(t, "SumKron", h, want.RawMatrix().Data, 1e-6)
	if err := SumKron(k, ar, ac, br, bc, a, b, h[1:]); !errors.Is(err, kernels.ErrShape) {
		t.Fatalf("SumKron with a short H: %v, want ErrShape", err)
	}
}

func TestPHMRawErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	c := newKronCase(rng, 2, 8, 12, 4, 1, true)
	a := c.args
	a.Y = make([]float32, 2*12)
	if err := PHM(a); err != nil {
		t.Fatal(err)
	}
	bad := []func(p *PHMArgs){
		func(p *PHMArgs) { p.N = 3 },
		func(p *PHMArgs) { p.Y = p.Y[1:] },
		func(p *PHMArgs) { p.S = nil },
		func(p *PHMArgs) { p.Bias = p.Bias[:5] },
		func(p *PHMArgs) { p.Rows = -1 },
		func(p *PHMArgs) { p.Algo = 9 },
	}
	for i, f := range bad {
		b := a
		f(&b)
		if err := PHM(b); !errors.Is(err, kernels.ErrShape) {
			t.Errorf("bad case %d: %v, want ErrShape", i, err)
		}
	}
	a.DY = make([]float32, 2*12)
	a.DX = make([]float32, 3)
	if err := PHMBackward(a); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("short DX: %v, want ErrShape", err)
	}
	if err := KronSum(KronArgs{In: 8, Out: 12, N: 4, A: a.A, W: make([]float32, 5), H: make([]float32, 96)}); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("short W: %v, want ErrShape", err)
	}
}

// TestBackendPHM runs the Backend methods on buffers against the raw-slice
// path, and checks their argument errors.
func TestBackendPHM(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, pure := range []bool{false, true} {
		be := New(Options{PureGo: pure, Threads: 2})
		for _, rank := range []int{0, 1} {
			c := newKronCase(rng, 5, 12, 8, 4, rank, true)
			up := func(s []float32) kernels.Buffer {
				if s == nil {
					return nil
				}
				buf, err := be.Alloc(kernels.Float32, len(s))
				if err != nil {
					t.Fatal(err)
				}
				if err := be.Upload(buf, s); err != nil {
					t.Fatal(err)
				}
				return buf
			}
			down := func(b kernels.Buffer) []float32 {
				s := make([]float32, b.Len())
				if err := be.Download(s, b); err != nil {
					t.Fatal(err)
				}
				return s
			}
			dy := kronRand(rng, 5*8)
			p := kernels.PHMParams{Rows: 5, In: 12, Out: 8, N: 4, Rank: rank, X: up(c.args.X), Y: up(make([]float32, 40)),
				A: up(c.args.A), W: up(c.args.W), S: up(c.args.S), T: up(c.args.T), Bias: up(c.args.Bias),
				DY: up(dy), DX: up(make([]float32, 60)), DA: up(make([]float32, 64)), DBias: up(make([]float32, 8))}
			if rank == 0 {
				p.DW = up(make([]float32, len(c.args.W)))
			} else {
				p.DS, p.DT = up(make([]float32, len(c.args.S))), up(make([]float32, len(c.args.T)))
			}
			if err := be.PHM(p); err != nil {
				t.Fatal(err)
			}
			if err := be.PHMBackward(p); err != nil {
				t.Fatal(err)
			}
			x := kronF64(c.args.X)
			g := c.ref.backward(5, x, kronF64(dy))
			name := fmt.Sprintf("%s rank %d", be.Name(), rank)
			kronCheckRel(t, name+" Y", down(p.Y), c.ref.forward(5, x), 2e-5)
			kronCheckRel(t, name+" DX", down(p.DX), g.dx, 2e-5)
			kronCheckRel(t, name+" DA", down(p.DA), g.da, 2e-5)
			kronCheckRel(t, name+" DBias", down(p.DBias), g.db, 2e-5)
			if rank == 0 {
				kronCheckRel(t, name+" DW", down(p.DW), g.dw, 2e-5)
			} else {
				kronCheckRel(t, name+" DS", down(p.DS), g.ds, 2e-5)
				kronCheckRel(t, name+" DT", down(p.DT), g.dt, 2e-5)
			}

			k := kernels.KronParams{In: 12, Out: 8, N: 4, Rank: rank, A: p.A, W: p.W, S: p.S, T: p.T, H: up(make([]float32, 96))}
			if err := be.KronSum(k); err != nil {
				t.Fatal(err)
			}
			kronCheckRel(t, name+" H", down(k.H), c.ref.h().RawMatrix().Data, 1e-6)
			k.DH, k.DA = k.H, up(make([]float32, 64))
			if err := be.KronSumBackward(k); err != nil {
				t.Fatal(err)
			}

			bad := p
			bad.In = 13
			if err := be.PHM(bad); !errors.Is(err, kernels.ErrShape) {
				t.Errorf("%s: in=13: %v, want ErrShape", name, err)
			}
			other := New(Options{})
			foreign, _ := other.Alloc(kernels.Float32, 40)
			bad = p
			bad.Y = foreign
			if err := be.PHM(bad); !errors.Is(err, kernels.ErrBackend) {
				t.Errorf("%s: foreign Y: %v, want ErrBackend", name, err)
			}
			k.H = up(make([]float32, 95))
			if err := be.KronSum(k); !errors.Is(err, kernels.ErrShape) {
				t.Errorf("%s: short H: %v, want ErrShape", name, err)
			}
		}
	}
}

// TestChoosePHM pins the decisions the cost model must make.
func TestChoosePHM(t *testing.T) {
	cases := []struct {
		rows, in, out, n, rank int
		want                   kernels.PHMAlgo
	}{
		{1024, 768, 24, 4, 1, kernels.PHMFused},          // Compacter down-projection
		{1024, 24, 768, 4, 1, kernels.PHMFused},          // Compacter up-projection
		{1024, 768, 24, 8, 1, kernels.PHMFused},          // n = 8
		{1024, 24, 768, 8, 1, kernels.PHMFused},          // n = 8, sub-rows of 3 on the in-side
		{1024, 768, 24, 12, 0, kernels.PHMMaterialize},   // PHM-Adapter down: mixing N²·In per row is 6× the dense FLOPs
		{1024, 24, 768, 12, 0, kernels.PHMMaterialize},   // PHM-Adapter up: mixing on sub-rows of 2
		{8192, 24, 768, 4, 0, kernels.PHMMaterialize},    // n = 4: sub-rows of 6
		{1024, 768, 768, 4, 0, kernels.PHMMaterialize},   // plain PHM, many rows
		{1024, 3072, 768, 4, 0, kernels.PHMMaterialize},  // plain PHM FFN size
		{1, 3072, 768, 12, 0, kernels.PHMFused},          // one row: building H costs more
		{4096, 768, 768, 2, 256, kernels.PHMMaterialize}, // high rank: more FLOPs than dense
	}
	for _, c := range cases {
		if got := ChoosePHM(c.rows, c.in, c.out, c.n, c.rank); got != c.want {
			t.Errorf("ChoosePHM(rows=%d, %d→%d, n=%d, rank=%d) = %v, want %v (fused %.3g s, materialize %.3g s)",
				c.rows, c.in, c.out, c.n, c.rank, got, c.want,
				PHMCost(kernels.PHMFused, c.rows, c.in, c.out, c.n, c.rank),
				PHMCost(kernels.PHMMaterialize, c.rows, c.in, c.out, c.n, c.rank))
		}
	}
}

// kronReadSafetensors reads the float32 tensors of a safetensors file: an
// 8-byte little-endian header length, a JSON header, then the raw data.
func kronReadSafetensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 8 {
		t.Fatalf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(raw)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	data := raw[8+n:]
	out := map[string][]float32{}
	for name, msg := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			t.Fatal(err)
		}
		if e.DType != "F32" {
			continue
		}
		b := data[e.Offsets[0]:e.Offsets[1]]
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		out[name] = v
	}
	return out
}

// TestOfficialCompacterTensors runs the layers on tensors of the official
// Compacter code (a subset copied to testdata/kron; when ../shared is
// present the copy is checked against it). Their shapes pin the layout
// (phm_rule [n,n,n], W_left [n, in/n, r], W_right [n, r, out/n],
// W [n, in/n, out/n]) of a d_model = 32, reduction 4, n = 4 adapter.
func TestOfficialCompacterTensors(t *testing.T) {
	fx := kronReadSafetensors(t, filepath.Join("..", "testdata", "kron", "official.safetensors"))
	if orig := filepath.Join("..", "..", "shared", "refdata", "peft", "compacter", "peft.safetensors"); kronFileExists(orig) {
		o := kronReadSafetensors(t, orig)
		if fmt.Sprint(o["phm_rule"]) != fmt.Sprint(fx["compacter/phm_rule"]) {
			t.Fatal("fixture phm_rule differs from the shared reference data")
		}
	}
	const n, dModel, down = 4, 32, 8
	rng := rand.New(rand.NewPCG(15, 16))
	layers := []struct {
		name             string
		in, out, rank    int
		a, w, s, t, bias []float32
	}{
		{"compacter down", dModel, down, 1, fx["compacter/phm_rule"], nil, fx["compacter/down.W_left"], fx["compacter/down.W_right"], fx["compacter/down.b"]},
		{"compacter up", down, dModel, 1, fx["compacter/phm_rule"], nil, fx["compacter/up.W_left"], fx["compacter/up.W_right"], fx["compacter/up.b"]},
		{"phm-adapter down", dModel, down, 0, fx["phm-adapter/down.phm_rule"], fx["phm-adapter/down.W"], nil, nil, fx["phm-adapter/down.b"]},
		{"phm-adapter up", down, dModel, 0, fx["phm-adapter/up.phm_rule"], fx["phm-adapter/up.W"], nil, nil, fx["phm-adapter/up.b"]},
	}
	for _, l := range layers {
		const rows = 14 // the reference batch: 2 sequences of 7 tokens
		a := PHMArgs{Rows: rows, In: l.in, Out: l.out, N: n, Rank: l.rank, A: l.a, W: l.w, S: l.s, T: l.t, Bias: l.bias,
			X: kronRand(rng, rows*l.in)}
		ref := kronRef64{in: l.in, out: l.out, n: n, rank: l.rank, a: kronF64(l.a), w: kronF64(l.w), s: kronF64(l.s), t: kronF64(l.t), b: kronF64(l.bias)}
		want := ref.forward(rows, kronF64(a.X))
		for _, algo := range []kernels.PHMAlgo{kernels.PHMFused, kernels.PHMMaterialize} {
			a.Algo = algo
			a.Y = make([]float32, rows*l.out)
			if err := PHM(a); err != nil {
				t.Fatalf("%s: %v", l.name, err)
			}
			kronCheckRel(t, fmt.Sprintf("%s %v", l.name, algo), a.Y, want, 1e-5)
		}
	}
}

func kronFileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestPHMFusedMixings runs each mixing of the fused full-rank PHM
// (kron_phm_mix.go), whichever choosePHMMix would pick, against the float64
// reference: forward, and a backward accumulating into non-zero gradients.
func TestPHMFusedMixings(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type shape struct{ in, out, n int }
	shapes := []shape{{5, 3, 1}, {6, 10, 2}, {24, 36, 12}, {36, 24, 12}, {52, 4, 4}, {96, 8, 4}}
	const tol = 2e-5
	for _, sh := range shapes {
		for ri, rows := range []int{1, 7, 45} {
			c := newKronCase(rng, rows, sh.in, sh.out, sh.n, 0, ri != 1)
			x64 := kronF64(c.args.X)
			wantY := c.ref.forward(rows, x64)
			dy := kronRand(rng, rows*sh.out)
			g := c.ref.backward(rows, x64, kronF64(dy))
			for _, simd := range []bool{false, hasAVX2FMA} {
				for _, th := range []int{1, 3} {
					for _, mix := range []phmMix{phmMixRows, phmMixInGemm, phmMixOutGemm} {
						x := kronCtx{simd: simd, threads: th}
						name := fmt.Sprintf("in=%d out=%d n=%d rows=%d simd=%v threads=%d mix=%d", sh.in, sh.out, sh.n, rows, simd, th, mix)
						a := c.args
						a.Y = make([]float32, rows*sh.out)
						x.phmFused(&a, false, mix)
						kronCheckRel(t, name+" Y", a.Y, wantY, tol)
						a.DY, a.DX = dy, make([]float32, rows*sh.in)
						for i := range a.DX {
							a.DX[i] = float32(math.NaN())
						}
						a.DA, a.DW = kronRand(rng, len(a.A)), kronRand(rng, len(a.W))
						if a.Bias != nil {
							a.DBias = kronRand(rng, sh.out)
						}
						da0, dw0, db0 := kronClone(a.DA), kronClone(a.DW), kronClone(a.DBias)
						x.phmFused(&a, true, mix)
						kronCheckRel(t, name+" DX", a.DX, g.dx, tol)
						kronCheckAcc(t, name+" DA", a.DA, da0, 1, g.da, tol)
						kronCheckAcc(t, name+" DW", a.DW, dw0, 1, g.dw, tol)
						if a.Bias != nil {
							kronCheckAcc(t, name+" DBias", a.DBias, db0, 1, g.db, tol)
						}
					}
				}
			}
		}
	}
}

// TestChoosePHMMix pins the fused PHM's mixing at the adapter's shapes.
func TestChoosePHMMix(t *testing.T) {
	for _, c := range []struct {
		in, out, n int
		want       phmMix
	}{
		{768, 24, 12, phmMixOutGemm}, // N²·In per row would be 6× the layer
		{24, 768, 12, phmMixInGemm},  // sub-rows of 2
		{3072, 768, 4, phmMixRows},   // N²·In is small next to In·Out
	} {
		if got := choosePHMMix(c.in, c.out, c.n); got != c.want {
			t.Errorf("choosePHMMix(%d→%d, n=%d) = %d, want %d", c.in, c.out, c.n, got, c.want)
		}
	}
}
