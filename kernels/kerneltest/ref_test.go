package kerneltest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// These tests hold the references to known values and their backward
// passes to central finite differences in float64.

func randv(r *rand.Rand, n int, scale float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64() * scale
	}
	return x
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// fdCheck compares grad, the claimed gradient of loss with respect to x,
// with central differences at every element of x.
func fdCheck(t *testing.T, what string, x, grad []float64, loss func() float64) {
	t.Helper()
	const h = 1e-6
	num := make([]float64, len(x))
	for i := range x {
		v := x[i]
		x[i] = v + h
		lp := loss()
		x[i] = v - h
		lm := loss()
		x[i] = v
		num[i] = (lp - lm) / (2 * h)
	}
	var d, n float64
	for i := range num {
		d += (num[i] - grad[i]) * (num[i] - grad[i])
		n += num[i] * num[i]
	}
	if e := math.Sqrt(d / math.Max(n, 1e-300)); !(e < 1e-6) {
		t.Errorf("%s: gradient differs from finite differences by %.3g (relative)", what, e)
	}
}

func TestGemmRef(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5, 6} // 2×3
	b := []float64{1, 0, 0, 1, 1, 1} // 3×2
	c := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	want := []float64{4, 5, 10, 11}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("A·B = %v, want %v", c, want)
		}
	}
	// Aᵀ stored 3×2 and Bᵀ stored 2×3, with beta and alpha.
	at := []float64{1, 4, 2, 5, 3, 6}
	bt := []float64{1, 0, 1, 0, 1, 1}
	Gemm(true, true, 2, 2, 3, 2, at, 2, bt, 3, -1, c, 2)
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("2·Aᵀᵀ·Bᵀᵀ − C = %v, want %v", c, want)
		}
	}
}

func TestActRef(t *testing.T) {
	known := []struct {
		f    kernels.Activation
		x, y float64
	}{
		{kernels.ReLU, -1, 0}, {kernels.ReLU, 2.5, 2.5},
		{kernels.GeLU, 1, 0.8413447460685429}, {kernels.GeLU, -1, -0.15865525393145707},
		{kernels.GeLUNew, 1, 0.8411919906082768}, {kernels.GeLUNew, 0, 0},
		{kernels.SiLU, 1, 0.7310585786300049}, {kernels.Tanh, 0.5, 0.46211715726000974},
		{kernels.Sigmoid, 0, 0.5}, {kernels.Sigmoid, 2, 0.8807970779778823},
	}
	for _, k := range known {
		if y := ActScalar(k.f, k.x); math.Abs(y-k.y) > 1e-12 {
			t.Errorf("%v(%v) = %v, want %v", k.f, k.x, y, k.y)
		}
	}
	if ActDeriv(kernels.ReLU, 0) != 0 || ActDeriv(kernels.ReLU, 1e-9) != 1 {
		t.Error("ReLU'(0) must be 0 and ReLU'(ε) 1")
	}
	for f := kernels.ReLU; f <= kernels.Sigmoid; f++ {
		for _, x := range []float64{-4, -1.3, -0.2, 0.3, 0.9, 2.2, 5} {
			const h = 1e-6
			num := (ActScalar(f, x+h) - ActScalar(f, x-h)) / (2 * h)
			if d := ActDeriv(f, x); math.Abs(d-num) > 1e-7 {
				t.Errorf("%v'(%v) = %v, finite differences %v", f, x, d, num)
			}
		}
	}
	dy, x := []float64{2, -1}, []float64{0.5, -0.7}
	got := ActBackward(kernels.Tanh, dy, x)
	for i := range got {
		if got[i] != dy[i]*ActDeriv(kernels.Tanh, x[i]) {
			t.Errorf("ActBackward[%d] = %v", i, got[i])
		}
	}
}

func TestRMSNormRef(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols, eps = 3, 5, 1e-3
	x, w, g := randv(r, rows*cols, 1), randv(r, cols, 1), randv(r, rows*cols, 1)
	y, rstd := RMSNorm(x, w, rows, cols, eps)
	// Row 0 by hand.
	var ms float64
	for c := 0; c < cols; c++ {
		ms += x[c] * x[c] / cols
	}
	if math.Abs(rstd[0]-1/math.Sqrt(ms+eps)) > 1e-15 || math.Abs(y[1]-w[1]*x[1]*rstd[0]) > 1e-15 {
		t.Errorf("RMSNorm row 0: rstd %v y %v", rstd[0], y[:cols])
	}
	dw := randv(r, cols, 1)
	dw0 := append([]float64(nil), dw...)
	dx := RMSNormBackward(x, w, rstd, g, rows, cols, dw)
	loss := func() float64 {
		y, _ := RMSNorm(x, w, rows, cols, eps)
		return dot(y, g)
	}
	fdCheck(t, "RMSNorm dx", x, dx, loss)
	for i := range dw {
		dw[i] -= dw0[i] // the accumulated part
	}
	fdCheck(t, "RMSNorm dw", w, dw, loss)
}

func TestSoftmaxRef(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Causal with an offset: rows 2, cols 4 keeps c ≤ r + 2.
	y := Softmax(randv(r, 8, 1), 1, 1, 2, 4, nil, true)
	if y[3] != 0 || y[2] == 0 || y[7] == 0 {
		t.Errorf("causal offset: %v", y)
	}
	// Broadcast masks: padding [B, C] and bias [H, R, C] equal an explicit
	// per-element mask.
	const b, h, rw, c = 2, 3, 2, 4
	x := randv(r, b*h*rw*c, 1)
	pad, bias := randv(r, b*c, 1), randv(r, h*rw*c, 1)
	pad[1] = math.Inf(-1)
	full := make([]float64, len(x))
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for ri := 0; ri < rw; ri++ {
				for ci := 0; ci < c; ci++ {
					full[((bi*h+hi)*rw+ri)*c+ci] = pad[bi*c+ci] + bias[(hi*rw+ri)*c+ci]
				}
			}
		}
	}
	y1 := Softmax(x, b, h, rw, c, []Mask{{M: pad, StrideBatch: c}, {M: bias, StrideHead: rw * c, StrideRow: c}}, false)
	y2 := Softmax(x, 1, 1, b*h*rw, c, []Mask{{M: full, StrideRow: c}}, false)
	for i := range y1 {
		if math.Abs(y1[i]-y2[i]) > 1e-15 {
			t.Fatalf("broadcast masks differ at %d: %v vs %v", i, y1[i], y2[i])
		}
	}
	for row := 0; row < b*h*rw; row++ {
		var s float64
		for ci := 0; ci < c; ci++ {
			s += y1[row*c+ci]
		}
		if math.Abs(s-1) > 1e-12 || y1[row*c+1] != 0 && row < h*rw {
			t.Errorf("row %d sums to %v (masked element %v)", row, s, y1[row*c+1])
		}
	}
	// A fully masked row is zeros.
	all := []float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	if z := Softmax([]float64{1, 2, 3}, 1, 1, 1, 3, []Mask{{M: all}}, false); z[0] != 0 || z[1] != 0 || z[2] != 0 {
		t.Errorf("fully masked row: %v", z)
	}
	// Backward against finite differences of Σ softmax(x)·g.
	xs, g := randv(r, 12, 1), randv(r, 12, 1)
	ys := Softmax(xs, 1, 1, 3, 4, nil, false)
	fdCheck(t, "SoftmaxBackward", xs, SoftmaxBackward(g, ys, 3, 4), func() float64 {
		return dot(Softmax(xs, 1, 1, 3, 4, nil, false), g)
	})
}

func TestCrossEntropyRef(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const rows, vocab = 4, 6
	logits := randv(r, rows*vocab, 2)
	labels := []int32{2, -100, 0, 5}
	loss, dl := CrossEntropy(logits, labels, rows, vocab, -100, 0.25)
	if loss[1] != 0 {
		t.Errorf("ignored row has loss %v", loss[1])
	}
	var s float64
	for c := 0; c < vocab; c++ {
		s += math.Exp(logits[c])
	}
	if want := math.Log(s) - logits[2]; math.Abs(loss[0]-want) > 1e-12 {
		t.Errorf("loss[0] = %v, want %v", loss[0], want)
	}
	fdCheck(t, "CrossEntropy dlogits", logits, dl, func() float64 {
		l, _ := CrossEntropy(logits, labels, rows, vocab, -100, 0.25)
		var s float64
		for _, v := range l {
			s += v
		}
		return 0.25 * s
	})
}

func TestAdamWRef(t *testing.T) {
	// First step from zero moments: param·(1 − lr·wd) − lr·g/(|g| + eps).
	p, g := []float64{1, -2, 0.5}, []float64{0.3, -0.01, 0}
	m, v := make([]float64, 3), make([]float64, 3)
	const lr, wd, eps = 0.1, 0.01, 1e-8
	want := make([]float64, 3)
	for i := range p {
		want[i] = p[i]*(1-lr*wd) - lr*g[i]/(math.Abs(g[i])+eps)
	}
	AdamW(p, g, m, v, lr, 0.9, 0.999, eps, wd, 1)
	for i := range p {
		if math.Abs(p[i]-want[i]) > 1e-12 {
			t.Errorf("param[%d] = %v, want %v", i, p[i], want[i])
		}
	}
	if math.Abs(m[0]-0.1*0.3) > 1e-15 || math.Abs(v[0]-0.001*0.09) > 1e-15 {
		t.Errorf("moments m=%v v=%v", m, v)
	}
}

func TestDropoutRef(t *testing.T) {
	src := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	y := Dropout(src, 0.5, 11, 100)
	for i, v := range y {
		keep := kernels.DropoutKeep(11, 100+uint64(i), 0.5)
		if keep && v != 2*src[i] || !keep && v != 0 {
			t.Errorf("element %d: %v (keep %v)", i, v, keep)
		}
	}
}

func TestPermuteRef(t *testing.T) {
	// [B, S, H, D] → [B, H, S, D], the split of attention heads.
	dims, perm := [4]int{2, 3, 4, 5}, [4]int{0, 2, 1, 3}
	src := make([]float64, 120)
	for i := range src {
		src[i] = float64(i)
	}
	dst := Permute(src, dims, perm)
	for b := 0; b < 2; b++ {
		for s := 0; s < 3; s++ {
			for h := 0; h < 4; h++ {
				for d := 0; d < 5; d++ {
					if dst[((b*4+h)*3+s)*5+d] != src[((b*3+s)*4+h)*5+d] {
						t.Fatalf("element (%d %d %d %d) misplaced", b, s, h, d)
					}
				}
			}
		}
	}
	// Applying the inverse permutation gives src back.
	back := Permute(dst, [4]int{2, 4, 3, 5}, perm)
	for i := range src {
		if back[i] != src[i] {
			t.Fatal("permute twice is not the identity")
		}
	}
}

func TestFWHTRef(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for logN := 0; logN <= 6; logN++ {
		n := 1 << logN
		x := randv(r, 2*n, 1)
		y := append([]float64(nil), x...)
		FWHT(y, logN, 2, true)
		for b := 0; b < 2; b++ {
			for i := 0; i < n; i++ {
				var s float64
				for j := 0; j < n; j++ {
					s += HadamardEntry(i, j) * x[b*n+j]
				}
				s /= math.Sqrt(float64(n))
				if math.Abs(y[b*n+i]-s) > 1e-12 {
					t.Fatalf("logN=%d: element %d is %v, definition gives %v", logN, i, y[b*n+i], s)
				}
			}
		}
	}
	if HadamardEntry(3, 5) != -1 || HadamardEntry(3, 12) != 1 || HadamardEntry(7, 7) != -1 {
		t.Error("HadamardEntry")
	}
}

// TestKronRef checks H against the textbook Kronecker product and the
// backward passes against finite differences, for full and low rank.
func TestKronRef(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n, inN, outN = 2, 3, 2
	for _, rank := range []int{0, 2} {
		k := Kron{In: n * inN, Out: n * outN, N: n, Rank: rank, A: randv(r, n*n*n, 1)}
		if rank > 0 {
			k.S, k.T = randv(r, n*inN*rank, 1), randv(r, n*rank*outN, 1)
		} else {
			k.W = randv(r, n*inN*outN, 1)
		}
		w, hm := k.Weights(), k.H()
		// kron(A, B)[(r·p + s), (c·q + t)] = A[r, c]·B[s, t], summed over i.
		for row := 0; row < k.In; row++ {
			for col := 0; col < k.Out; col++ {
				var s float64
				for i := 0; i < n; i++ {
					s += k.A[i*n*n+(row/inN)*n+col/outN] * w[i*inN*outN+(row%inN)*outN+col%outN]
				}
				if math.Abs(hm[row*k.Out+col]-s) > 1e-12 {
					t.Fatalf("rank %d: H[%d, %d] = %v, want %v", rank, row, col, hm[row*k.Out+col], s)
				}
			}
		}
		if rank > 0 { // W[0] = S[0]·T[0] by hand at (1, 1)
			var s float64
			for j := 0; j < rank; j++ {
				s += k.S[1*rank+j] * k.T[j*outN+1]
			}
			if math.Abs(w[1*outN+1]-s) > 1e-12 {
				t.Errorf("W = S·T: %v, want %v", w[1*outN+1], s)
			}
		}

		// KronSum backward: L = Σ H·G.
		g := randv(r, k.In*k.Out, 1)
		loss := func() float64 { return dot(k.H(), g) }
		da := make([]float64, len(k.A))
		var dw, ds, dt []float64
		if rank > 0 {
			ds, dt = make([]float64, len(k.S)), make([]float64, len(k.T))
		} else {
			dw = make([]float64, len(k.W))
		}
		k.Backward(g, da, dw, ds, dt)
		fdCheck(t, "Kron dA", k.A, da, loss)
		if rank > 0 {
			fdCheck(t, "Kron dS", k.S, ds, loss)
			fdCheck(t, "Kron dT", k.T, dt, loss)
		} else {
			fdCheck(t, "Kron dW", k.W, dw, loss)
		}

		// PHM backward: L = Σ Y·G for Y = X·H + bias.
		const rows = 3
		x, bias, gy := randv(r, rows*k.In, 1), randv(r, k.Out, 1), randv(r, rows*k.Out, 1)
		ploss := func() float64 { return dot(k.PHM(x, rows, bias), gy) }
		da = make([]float64, len(k.A))
		db := make([]float64, k.Out)
		if rank > 0 {
			ds, dt = make([]float64, len(k.S)), make([]float64, len(k.T))
		} else {
			dw = make([]float64, len(k.W))
		}
		dx := k.PHMBackward(x, gy, rows, da, dw, ds, dt, db)
		fdCheck(t, "PHM dX", x, dx, ploss)
		fdCheck(t, "PHM dA", k.A, da, ploss)
		fdCheck(t, "PHM dBias", bias, db, ploss)
		if rank > 0 {
			fdCheck(t, "PHM dS", k.S, ds, ploss)
			fdCheck(t, "PHM dT", k.T, dt, ploss)
		} else {
			fdCheck(t, "PHM dW", k.W, dw, ploss)
		}
	}
}

func TestRelErr(t *testing.T) {
	if e := RelErr([]float32{1, 2}, []float64{1, 2}); e != 0 {
		t.Errorf("equal: %v", e)
	}
	if e := RelErr([]float32{3, 4}, []float64{0, 0}); e != 5 {
		t.Errorf("zero reference: %v, want the absolute error 5", e)
	}
	if e := RelErr([]float32{float32(math.NaN())}, []float64{1}); !math.IsNaN(e) {
		t.Errorf("NaN: %v", e)
	}
	if e := RelErr([]float32{1.5, 2}, []float64{1, 2}); math.Abs(e-0.5/math.Sqrt(5)) > 1e-15 {
		t.Errorf("RelErr = %v", e)
	}
}
