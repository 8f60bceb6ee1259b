// Package kerneltest holds the float64 reference implementation of every
// kernels.Backend operation and the conformance suite that every backend
// (cpu, purego, cuda) must pass.
//
// The references are written from the godoc of package kernels alone, in the
// plainest form (no blocking, no fusion), and computed in float64 so that
// they are exact to well below float32 rounding. They work on host slices;
// outputs that the spec overwrites are returned as new slices, outputs that
// the spec accumulates (parameter gradients) are added into the slices the
// caller passes, mirroring the Backend operations.
//
// A backend package runs the suite from its tests, with a function that
// opens a fresh backend (or OpenDriver, which skips where the backend is
// unavailable):
//
//	func TestConformance(t *testing.T) {
//		kerneltest.Run(t, kerneltest.OpenDriver("cuda"))
//	}
//
// and selects one operation with go test -run 'Conformance/Gemm'.
package kerneltest

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/compacter-go/compacter/kernels"
)

// F64 converts a float32 slice to float64.
func F64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// F32 converts a float64 slice to float32 (rounding to nearest).
func F32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C in place on c, with the layout
// of kernels.GemmParams (row-major, leading dimensions in elements; zero
// leading dimensions are not filled in here). With beta = 0, C is not read.
func Gemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				var av, bv float64
				if transA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if transB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Binary returns a op b elementwise.
func Binary(op kernels.BinaryOp, a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		switch op {
		case kernels.Add:
			out[i] = a[i] + b[i]
		case kernels.Sub:
			out[i] = a[i] - b[i]
		case kernels.Mul:
			out[i] = a[i] * b[i]
		default:
			panic(fmt.Sprintf("kerneltest: unknown binary op %v", op))
		}
	}
	return out
}

// Axpby computes dst = alpha·x + beta·dst in place; with beta = 0 dst is not
// read.
func Axpby(dst []float64, alpha float64, x []float64, beta float64) {
	for i := range dst {
		if beta == 0 {
			dst[i] = alpha * x[i]
		} else {
			dst[i] = alpha*x[i] + beta*dst[i]
		}
	}
}

// Scale computes dst *= alpha in place.
func Scale(dst []float64, alpha float64) {
	for i := range dst {
		dst[i] *= alpha
	}
}

// AddBias adds bias[c] to x[r, c] in place for x of rows×cols.
func AddBias(x, bias []float64, rows, cols int) {
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			x[r*cols+c] += bias[c]
		}
	}
}

// SumRows computes dst[c] = beta·dst[c] + Σ_r x[r, c] in place; with beta = 0
// dst is not read.
func SumRows(dst, x []float64, rows, cols int, beta float64) {
	for c := 0; c < cols; c++ {
		var s float64
		for r := 0; r < rows; r++ {
			s += x[r*cols+c]
		}
		if beta == 0 {
			dst[c] = s
		} else {
			dst[c] = beta*dst[c] + s
		}
	}
}

// SumSquares returns Σ x[i]².
func SumSquares(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}

// ActScalar returns f(x) with the formulas documented on kernels.Activation.
func ActScalar(f kernels.Activation, x float64) float64 {
	switch f {
	case kernels.ReLU:
		return math.Max(x, 0)
	case kernels.GeLUNew:
		return 0.5 * x * (1 + math.Tanh(geluC*(x+0.044715*x*x*x)))
	case kernels.GeLU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case kernels.SiLU:
		return x * sigmoid(x)
	case kernels.Tanh:
		return math.Tanh(x)
	case kernels.Sigmoid:
		return sigmoid(x)
	}
	panic(fmt.Sprintf("kerneltest: unknown activation %v", f))
}

// ActDeriv returns f'(x); the derivative of ReLU at 0 is 0.
func ActDeriv(f kernels.Activation, x float64) float64 {
	switch f {
	case kernels.ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case kernels.GeLUNew:
		u := geluC * (x + 0.044715*x*x*x)
		th := math.Tanh(u)
		du := geluC * (1 + 3*0.044715*x*x)
		return 0.5*(1+th) + 0.5*x*(1-th*th)*du
	case kernels.GeLU:
		cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		pdf := math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
		return cdf + x*pdf
	case kernels.SiLU:
		s := sigmoid(x)
		return s * (1 + x*(1-s))
	case kernels.Tanh:
		th := math.Tanh(x)
		return 1 - th*th
	case kernels.Sigmoid:
		s := sigmoid(x)
		return s * (1 - s)
	}
	panic(fmt.Sprintf("kerneltest: unknown activation %v", f))
}

// geluC is √(2/π).
var geluC = math.Sqrt(2 / math.Pi)

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Act returns f(x) elementwise.
func Act(f kernels.Activation, x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = ActScalar(f, v)
	}
	return out
}

// ActBackward returns dy·f'(x) elementwise.
func ActBackward(f kernels.Activation, dy, x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = dy[i] * ActDeriv(f, v)
	}
	return out
}

// RMSNorm returns y and rstd of T5LayerNorm (kernels.RMSNormParams).
func RMSNorm(x, w []float64, rows, cols int, eps float64) (y, rstd []float64) {
	y = make([]float64, rows*cols)
	rstd = make([]float64, rows)
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		rs := 1 / math.Sqrt(SumSquares(row)/float64(cols)+eps)
		rstd[r] = rs
		for c, v := range row {
			y[r*cols+c] = w[c] * v * rs
		}
	}
	return y, rstd
}

// RMSNormBackward returns dx and, when dw is not nil, adds the gradient of w
// into dw (kernels.RMSNormParams).
func RMSNormBackward(x, w, rstd, dy []float64, rows, cols int, dw []float64) (dx []float64) {
	dx = make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		rs := rstd[r]
		var mean float64
		for c := 0; c < cols; c++ {
			i := r*cols + c
			mean += w[c] * dy[i] * x[i]
			if dw != nil {
				dw[c] += dy[i] * x[i] * rs
			}
		}
		mean /= float64(cols)
		for c := 0; c < cols; c++ {
			i := r*cols + c
			dx[i] = rs * (w[c]*dy[i] - x[i]*rs*rs*mean)
		}
	}
	return dx
}

// Mask is an additive mask on the host, broadcast by its strides as
// kernels.AdditiveMask.
type Mask struct {
	M                                  []float64
	StrideBatch, StrideHead, StrideRow int
}

// Softmax returns softmax(x + Σ masks) over the last axis of x of shape
// [batch, heads, rows, cols] (kernels.SoftmaxParams). An element is excluded
// (probability exactly 0) when causal excludes it or its masked score is
// −∞; a row whose every element is excluded is all zeros.
func Softmax(x []float64, batch, heads, rows, cols int, masks []Mask, causal bool) []float64 {
	y := make([]float64, len(x))
	s := make([]float64, cols)
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			for r := 0; r < rows; r++ {
				base := ((b*heads+h)*rows + r) * cols
				mx := math.Inf(-1)
				for c := 0; c < cols; c++ {
					v := x[base+c]
					for _, m := range masks {
						v += m.M[b*m.StrideBatch+h*m.StrideHead+r*m.StrideRow+c]
					}
					if causal && c > r+(cols-rows) {
						v = math.Inf(-1)
					}
					s[c] = v
					mx = math.Max(mx, v)
				}
				if math.IsInf(mx, -1) {
					continue // all excluded: zeros
				}
				var sum float64
				for c := range s {
					s[c] = math.Exp(s[c] - mx)
					sum += s[c]
				}
				for c := range s {
					y[base+c] = s[c] / sum
				}
			}
		}
	}
	return y
}

// SoftmaxBackward returns dx = y ⊙ (dy − Σ_c dy·y) per row.
func SoftmaxBackward(dy, y []float64, rows, cols int) []float64 {
	dx := make([]float64, rows*cols)
	for r := 0; r < rows; r++ {
		var dot float64
		for c := 0; c < cols; c++ {
			dot += dy[r*cols+c] * y[r*cols+c]
		}
		for c := 0; c < cols; c++ {
			i := r*cols + c
			dx[i] = y[i] * (dy[i] - dot)
		}
	}
	return dx
}

// Embedding returns the rows table[ids[i], :] (of dim elements) in order.
func Embedding(table []float64, ids []int32, dim int) []float64 {
	out := make([]float64, len(ids)*dim)
	for i, id := range ids {
		copy(out[i*dim:(i+1)*dim], table[int(id)*dim:(int(id)+1)*dim])
	}
	return out
}

// EmbeddingBackward adds dout[i, :] into dtable[ids[i], :].
func EmbeddingBackward(dtable, dout []float64, ids []int32, dim int) {
	for i, id := range ids {
		for d := 0; d < dim; d++ {
			dtable[int(id)*dim+d] += dout[i*dim+d]
		}
	}
}

// CrossEntropy returns the per-row losses and the gradient of the logits
// (kernels.CrossEntropyParams).
func CrossEntropy(logits []float64, labels []int32, rows, vocab int, ignore int32, gradScale float64) (loss, dlogits []float64) {
	loss = make([]float64, rows)
	dlogits = make([]float64, rows*vocab)
	for r := 0; r < rows; r++ {
		if labels[r] == ignore {
			continue
		}
		row := logits[r*vocab : (r+1)*vocab]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(v - mx)
		}
		lse := mx + math.Log(sum)
		lab := int(labels[r])
		loss[r] = lse - row[lab]
		for c, v := range row {
			g := math.Exp(v - lse)
			if c == lab {
				g--
			}
			dlogits[r*vocab+c] = g * gradScale
		}
	}
	return loss, dlogits
}

// AdamW takes one torch.optim.AdamW step in place (kernels.AdamWParams).
func AdamW(param, grad, m, v []float64, lr, beta1, beta2, eps, weightDecay float64, step int) {
	bc1 := 1 - math.Pow(beta1, float64(step))
	bc2 := 1 - math.Pow(beta2, float64(step))
	for i := range param {
		param[i] *= 1 - lr*weightDecay
		m[i] = beta1*m[i] + (1-beta1)*grad[i]
		v[i] = beta2*v[i] + (1-beta2)*grad[i]*grad[i]
		param[i] -= (lr / bc1) * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + eps)
	}
}

// Dropout returns src[i]·keep(i)/(1−p) with keep(i) = kernels.DropoutKeep(seed,
// offset+i, p).
func Dropout(src []float64, p float32, seed, offset uint64) []float64 {
	out := make([]float64, len(src))
	scale := 1 / (1 - float64(p))
	for i, v := range src {
		if kernels.DropoutKeep(seed, offset+uint64(i), p) {
			out[i] = v * scale
		}
	}
	return out
}

// Permute returns src, a contiguous array of shape dims, with its axes
// permuted: the result has shape (dims[perm[0]], …, dims[perm[3]]).
func Permute(src []float64, dims, perm [4]int) []float64 {
	out := make([]float64, len(src))
	var od [4]int
	for i := range 4 {
		od[i] = dims[perm[i]]
	}
	var idx [4]int // index into src
	for idx[0] = 0; idx[0] < dims[0]; idx[0]++ {
		for idx[1] = 0; idx[1] < dims[1]; idx[1]++ {
			for idx[2] = 0; idx[2] < dims[2]; idx[2]++ {
				for idx[3] = 0; idx[3] < dims[3]; idx[3]++ {
					s := ((idx[0]*dims[1]+idx[1])*dims[2]+idx[2])*dims[3] + idx[3]
					d := ((idx[perm[0]]*od[1]+idx[perm[1]])*od[2]+idx[perm[2]])*od[3] + idx[perm[3]]
					out[d] = src[s]
				}
			}
		}
	}
	return out
}

// FWHT applies the Walsh–Hadamard transform in natural (Sylvester) order in
// place to each of batch vectors of length 2^logN:
// y[i] = Σ_j (−1)^popcount(i&j)·x[j], times 2^(−logN/2) when orthonormal.
func FWHT(x []float64, logN, batch int, orthonormal bool) {
	n := 1 << logN
	scale := 1.0
	if orthonormal {
		scale = math.Pow(2, -float64(logN)/2)
	}
	for b := 0; b < batch; b++ {
		v := x[b*n : (b+1)*n]
		for h := 1; h < n; h *= 2 {
			for i := 0; i < n; i += 2 * h {
				for j := i; j < i+h; j++ {
					v[j], v[j+h] = v[j]+v[j+h], v[j]-v[j+h]
				}
			}
		}
		for i := range v {
			v[i] *= scale
		}
	}
}

// HadamardEntry returns the (i, j) entry of the unnormalised Sylvester
// Hadamard matrix, (−1)^popcount(i&j).
func HadamardEntry(i, j int) float64 {
	if bits.OnesCount(uint(i&j))%2 == 1 {
		return -1
	}
	return 1
}

// Kron holds the weights of a PHM layer on the host, in the conventions of
// kernels.KronParams: A of shape [N, N, N]; W of shape [N, In/N, Out/N], or,
// when Rank > 0, S of shape [N, In/N, Rank] and T of shape [N, Rank, Out/N]
// with W[i] = S[i]·T[i].
type Kron struct {
	In, Out, N, Rank int
	A, W, S, T       []float64
}

// Weights returns the effective W of shape [N, In/N, Out/N] (W itself, or
// S[i]·T[i] when Rank > 0).
func (k Kron) Weights() []float64 {
	inN, outN := k.In/k.N, k.Out/k.N
	if k.Rank == 0 {
		return k.W
	}
	w := make([]float64, k.N*inN*outN)
	for i := 0; i < k.N; i++ {
		Gemm(false, false, inN, outN, k.Rank, 1, k.S[i*inN*k.Rank:], k.Rank, k.T[i*k.Rank*outN:], outN, 0, w[i*inN*outN:], outN)
	}
	return w
}

// H returns H = Σᵢ kron(A[i], W[i]) of shape [In, Out]:
// H[r·(In/N)+s, c·(Out/N)+t] = Σᵢ A[i,r,c]·W[i,s,t].
func (k Kron) H() []float64 {
	n, inN, outN := k.N, k.In/k.N, k.Out/k.N
	w := k.Weights()
	h := make([]float64, k.In*k.Out)
	for i := 0; i < n; i++ {
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				a := k.A[(i*n+r)*n+c]
				for s := 0; s < inN; s++ {
					for t := 0; t < outN; t++ {
						h[(r*inN+s)*k.Out+c*outN+t] += a * w[(i*inN+s)*outN+t]
					}
				}
			}
		}
	}
	return h
}

// Backward adds the gradients of A and of W (or of S and T when Rank > 0)
// from the gradient dh of H into those of da, dw, ds, dt that are not nil.
func (k Kron) Backward(dh, da, dw, ds, dt []float64) {
	n, inN, outN := k.N, k.In/k.N, k.Out/k.N
	w := k.Weights()
	gw := make([]float64, n*inN*outN) // gradient of the effective W
	for i := 0; i < n; i++ {
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				a := k.A[(i*n+r)*n+c]
				var ga float64
				for s := 0; s < inN; s++ {
					for t := 0; t < outN; t++ {
						g := dh[(r*inN+s)*k.Out+c*outN+t]
						ga += g * w[(i*inN+s)*outN+t]
						gw[(i*inN+s)*outN+t] += a * g
					}
				}
				if da != nil {
					da[(i*n+r)*n+c] += ga
				}
			}
		}
	}
	if k.Rank == 0 {
		if dw != nil {
			for j, g := range gw {
				dw[j] += g
			}
		}
		return
	}
	rk := k.Rank
	for i := 0; i < n; i++ {
		g := gw[i*inN*outN:]
		if ds != nil { // dS[i] += gW[i]·T[i]ᵀ
			Gemm(false, true, inN, rk, outN, 1, g, outN, k.T[i*rk*outN:], outN, 1, ds[i*inN*rk:], rk)
		}
		if dt != nil { // dT[i] += S[i]ᵀ·gW[i]
			Gemm(true, false, rk, outN, inN, 1, k.S[i*inN*rk:], rk, g, outN, 1, dt[i*rk*outN:], outN)
		}
	}
}

// PHM returns Y = X·H + bias for X of rows×In (bias may be nil).
func (k Kron) PHM(x []float64, rows int, bias []float64) []float64 {
	y := make([]float64, rows*k.Out)
	Gemm(false, false, rows, k.Out, k.In, 1, x, k.In, k.H(), k.Out, 0, y, k.Out)
	if bias != nil {
		AddBias(y, bias, rows, k.Out)
	}
	return y
}

// PHMBackward returns DX = DY·Hᵀ and adds the gradients of A, W (or S and
// T) and the bias into those of da, dw, ds, dt, dbias that are not nil.
func (k Kron) PHMBackward(x, dy []float64, rows int, da, dw, ds, dt, dbias []float64) (dx []float64) {
	dx = make([]float64, rows*k.In)
	Gemm(false, true, rows, k.In, k.Out, 1, dy, k.Out, k.H(), k.Out, 0, dx, k.In)
	dh := make([]float64, k.In*k.Out)
	Gemm(true, false, k.In, k.Out, rows, 1, x, k.In, dy, k.Out, 0, dh, k.Out)
	k.Backward(dh, da, dw, ds, dt)
	if dbias != nil {
		SumRows(dbias, dy, rows, k.Out, 1)
	}
	return dx
}
