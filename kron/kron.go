// Package kron is the Kronecker-product algebra of parameterized
// hypercomplex multiplication (PHM) layers and of Compacter's low-rank
// variant (LPHM), for Go programs that train or run such layers on the CPU.
//
// A PHM layer with N terms maps rows x of length In to rows y of length Out
// through the weight
//
//	H = Σᵢ kron(A[i], W[i]),  H[r·(In/N)+s, c·(Out/N)+t] = Σᵢ A[i,r,c]·W[i,s,t]
//
// as y = x·H + b: row vectors and an [In, Out] weight, the conventions of
// the official Compacter code (PHMLinear), not nn.Linear's. A (phm_rule)
// has shape [N, N, N] and W has shape [N, In/N, Out/N]. In an LPHM layer
// (Rank > 0) W[i] = S[i]·T[i] with S (W_left) of shape [N, In/N, Rank] and
// T (W_right) of shape [N, Rank, Out/N]; Compacter shares one A among all
// its layers, which is why gradients of the weights accumulate (+=).
//
// A layer runs either fused, never forming H (per row, Y = Σᵢ A[i]ᵀ·X·W[i]
// with X the row reshaped to N×(In/N), in O(N·Rank·(In+Out)) per row for
// LPHM), or by materialising H and multiplying densely. [Choose] picks the
// cheaper from a cost model; [Layer.Algo] can force either.
//
// Every function exists on raw row-major float32 slices and on
// *tensor.Dense (gorgonia.org/tensor). Bad shapes are reported as errors
// wrapping kernels.ErrShape (or kernels.ErrDType for a tensor that is not
// float32), never as panics. The arithmetic is package cpu's, with its
// AVX2/FMA assembly where the CPU has it and all cores.
package kron

import (
	"fmt"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
)

// Algo selects how a layer is applied; it is kernels.PHMAlgo.
type Algo = kernels.PHMAlgo

// Algorithms.
const (
	Auto        = kernels.PHMAuto        // the cost model chooses
	Fused       = kernels.PHMFused       // never form H
	Materialize = kernels.PHMMaterialize // build H, then a dense product
)

func shapeErr(op, format string, args ...any) error {
	return fmt.Errorf("kron: %s: %s: %w", op, fmt.Sprintf(format, args...), kernels.ErrShape)
}

// Kron returns the Kronecker product of a (ar×ac) and b (br×bc), an
// (ar·br)×(ac·bc) matrix with element [r·br+s, c·bc+t] = a[r,c]·b[s,t].
func Kron(a []float32, ar, ac int, b []float32, br, bc int) ([]float32, error) {
	return SumKron(1, a, ar, ac, b, br, bc)
}

// SumKron returns Σᵢ kron(A[i], B[i]) for k pairs, with a of shape
// [k, ar, ac] and b of shape [k, br, bc]: an (ar·br)×(ac·bc) matrix.
func SumKron(k int, a []float32, ar, ac int, b []float32, br, bc int) ([]float32, error) {
	if k <= 0 || ar <= 0 || ac <= 0 || br <= 0 || bc <= 0 {
		return nil, shapeErr("sumkron", "sizes k=%d, %d×%d ⊗ %d×%d must be positive", k, ar, ac, br, bc)
	}
	h := make([]float32, ar*br*ac*bc)
	if err := cpu.SumKron(k, ar, ac, br, bc, a, b, h); err != nil {
		return nil, fmt.Errorf("kron: %w", err)
	}
	return h, nil
}

// Layer describes the shape of a PHM layer (Rank = 0) or LPHM layer
// (Rank > 0): In and Out must be multiples of N. Algo (default Auto)
// selects the algorithm.
type Layer struct {
	In, Out, N, Rank int
	Algo             Algo
}

// Weights are a layer's parameters: A always, W for PHM, S and T for LPHM,
// and an optional Bias of Out elements (nil for none).
type Weights struct {
	A, W, S, T, Bias []float32
}

// Grads receive a layer's gradients, accumulated (+=) into the non-nil
// slices (nil ones are not computed), with the shapes of Weights.
type Grads struct {
	A, W, S, T, Bias []float32
}

// Validate reports whether the shape is usable.
func (l Layer) Validate() error {
	if l.N <= 0 || l.In <= 0 || l.Out <= 0 || l.Rank < 0 {
		return shapeErr("layer", "in=%d out=%d n=%d rank=%d", l.In, l.Out, l.N, l.Rank)
	}
	if l.In%l.N != 0 || l.Out%l.N != 0 {
		return shapeErr("layer", "in=%d and out=%d must be multiples of n=%d", l.In, l.Out, l.N)
	}
	if l.Algo > Materialize {
		return shapeErr("layer", "unknown algorithm %v", l.Algo)
	}
	return nil
}

// Sizes returns the element counts of A, W (0 for LPHM), S and T (0 for
// PHM).
func (l Layer) Sizes() (a, w, s, t int) {
	if l.N <= 0 {
		return 0, 0, 0, 0
	}
	p, q := l.In/l.N, l.Out/l.N
	a = l.N * l.N * l.N
	if l.Rank > 0 {
		return a, 0, l.N * p * l.Rank, l.N * l.Rank * q
	}
	return a, l.N * p * q, 0, 0
}

// NumParams is the number of trainable parameters, without the bias.
func (l Layer) NumParams() int {
	a, w, s, t := l.Sizes()
	return a + w + s + t
}

// Choose returns the algorithm Auto runs for rows rows of this layer.
func (l Layer) Choose(rows int) Algo {
	return Choose(rows, l.In, l.Out, l.N, l.Rank)
}

// Choose returns the cheaper of Fused and Materialize for one forward and
// one backward pass of rows rows through a layer of the given shape, under
// the cost model of [Cost].
func Choose(rows, in, out, n, rank int) Algo {
	return cpu.ChoosePHM(rows, in, out, n, rank)
}

// Cost estimates the seconds of one forward and one backward pass on one
// core with algorithm algo (Fused or Materialize): each path's FLOPs at
// the measured rate of the kernel doing them, plus a fixed cost per call.
func Cost(algo Algo, rows, in, out, n, rank int) float64 {
	return cpu.PHMCost(algo, rows, in, out, n, rank)
}

// H materialises the layer's weight H = Σᵢ kron(A[i], W[i]) (W[i] =
// S[i]·T[i] for LPHM), an In×Out matrix.
func (l Layer) H(w Weights) ([]float32, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	h := make([]float32, l.In*l.Out)
	err := cpu.KronSum(cpu.KronArgs{In: l.In, Out: l.Out, N: l.N, Rank: l.Rank, A: w.A, W: l.pick(w.W, false), S: l.pick(w.S, true), T: l.pick(w.T, true), H: h})
	if err != nil {
		return nil, fmt.Errorf("kron: %w", err)
	}
	return h, nil
}

// HBackward accumulates into g the gradients of the weights from dh, the
// gradient of H (In×Out). g.Bias is not used.
func (l Layer) HBackward(w Weights, dh []float32, g Grads) error {
	if err := l.Validate(); err != nil {
		return err
	}
	err := cpu.KronSumBackward(cpu.KronArgs{In: l.In, Out: l.Out, N: l.N, Rank: l.Rank,
		A: w.A, W: l.pick(w.W, false), S: l.pick(w.S, true), T: l.pick(w.T, true), DH: dh,
		DA: g.A, DW: l.pick(g.W, false), DS: l.pick(g.S, true), DT: l.pick(g.T, true)})
	if err != nil {
		return fmt.Errorf("kron: %w", err)
	}
	return nil
}

// pick drops the operands the layer's kind does not use (W for LPHM, S and
// T for PHM), so that a stray one is ignored rather than an error.
func (l Layer) pick(s []float32, lowRank bool) []float32 {
	if lowRank != (l.Rank > 0) {
		return nil
	}
	return s
}

func (l Layer) args(rows int, x []float32, w Weights) cpu.PHMArgs {
	return cpu.PHMArgs{Rows: rows, In: l.In, Out: l.Out, N: l.N, Rank: l.Rank, X: x,
		A: w.A, W: l.pick(w.W, false), S: l.pick(w.S, true), T: l.pick(w.T, true), Bias: w.Bias, Algo: l.Algo}
}

// Forward computes y = x·H + Bias for rows rows: x has rows·In elements,
// y (overwritten) rows·Out.
func (l Layer) Forward(rows int, x []float32, w Weights, y []float32) error {
	if err := l.Validate(); err != nil {
		return err
	}
	a := l.args(rows, x, w)
	a.Y = y
	if err := cpu.PHM(a); err != nil {
		return fmt.Errorf("kron: %w", err)
	}
	return nil
}

// Backward computes the gradients of Forward from dy (rows·Out): dx
// (rows·In, overwritten; nil to skip) and the weight gradients in g
// (accumulated; nil slices skipped).
func (l Layer) Backward(rows int, x, dy []float32, w Weights, dx []float32, g Grads) error {
	if err := l.Validate(); err != nil {
		return err
	}
	a := l.args(rows, x, w)
	a.DY, a.DX = dy, dx
	a.DA, a.DW, a.DS, a.DT, a.DBias = g.A, l.pick(g.W, false), l.pick(g.S, true), l.pick(g.T, true), g.Bias
	if err := cpu.PHMBackward(a); err != nil {
		return fmt.Errorf("kron: %w", err)
	}
	return nil
}
