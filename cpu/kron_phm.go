package cpu

import (
	"fmt"
	"sync"

	"github.com/compacter-go/compacter/kernels"
)

// This file holds the math of the PHM and LPHM (Compacter) layers on raw
// slices, in the conventions of kernels.KronParams and kernels.PHMParams:
//
//	H = Σᵢ kron(A[i], W[i]),  H[a·p+s, c·q+t] = Σᵢ A[i,a,c]·W[i,s,t]
//
// with p = In/N, q = Out/N, A of [N,N,N], W of [N,p,q] (or W[i] = S[i]·T[i]
// with S of [N,p,r] and T of [N,r,q]) and y = x·H + b for row vectors x.
//
// Reshaping a row x to X ∈ R^{N×p} (X[a,s] = x[a·p+s]) gives the fused form
// y[c·q+t] = Σᵢ (A[i]ᵀ·X·W[i])[c,t]. The fused LPHM runs, per block of rows,
//
//	P = X_all·[S_1|…|S_N]      [rows·N, N·r]   (kronDot: a few long dots)
//	Q[c,(i,k)] = Σ_a A[i,a,c]·P[a,(i,k)]        (kronMix, per row)
//	Y = Q·[T_1;…;T_N]          [rows·N, q]     (kronAxpy: short sums)
//
// in O(N·r·(In+Out) + N³·r) per row. The backward recomputes P and Q (the
// API keeps no state between calls), then dT += Qᵀ·dY (kronAccT),
// dQ = dY·Tᵀ (kronDot), dP = mixᵀ(dQ) and dA (kronMix, kronMixGrad),
// dS += dPᵀ·X (kronAccT) and dX = dP·Sᵀ (kronAxpy), on the same block of
// rows while it is in cache: X is read from memory once per pass. Weight
// gradients are summed per worker and added in worker order, so results do
// not depend on scheduling.
//
// The fused PHM mixes first, Z[c,(i,s)] = Σ_a A[i,a,c]·X[a,s], then
// Y = Z_all·W with W viewed as [In, q]: the dense layer's FLOPs plus the
// mixing; when Out is much smaller than In it multiplies by W first and
// mixes the output side instead (kron_phm_mix.go).

// kronCtx carries a backend's choices into the kernels.
type kronCtx struct {
	simd    bool
	threads int
}

// kronDefault is what the exported raw-slice entry points use.
var kronDefault = kronCtx{simd: hasAVX2FMA}

// KronArgs is kernels.KronParams on raw float32 slices (nil for absent
// operands), for the raw-slice entry points KronSum and KronSumBackward.
type KronArgs struct {
	In, Out, N, Rank int
	A, W, S, T       []float32
	H, DH            []float32
	DA, DW, DS, DT   []float32
}

// PHMArgs is kernels.PHMParams on raw float32 slices (nil for absent
// operands), for the raw-slice entry points PHM and PHMBackward.
type PHMArgs struct {
	Rows             int
	In, Out, N, Rank int
	X, Y             []float32
	A, W, S, T, Bias []float32
	DY, DX           []float32
	DA, DW, DS, DT   []float32
	DBias            []float32
	Algo             kernels.PHMAlgo
	Accumulate       bool
}

// kronSliceBuf adapts a slice to kernels.Buffer so that the raw-slice entry
// points run the same Validate checks as every backend.
type kronSliceBuf []float32

func (s kronSliceBuf) DType() kernels.DType { return kernels.Float32 }
func (s kronSliceBuf) Len() int             { return len(s) }
func (s kronSliceBuf) Slice(off, n int) kernels.Buffer {
	return s[off : off+n]
}

func kronBuf(s []float32) kernels.Buffer {
	if s == nil {
		return nil
	}
	return kronSliceBuf(s)
}

func (p KronArgs) params() kernels.KronParams {
	return kernels.KronParams{In: p.In, Out: p.Out, N: p.N, Rank: p.Rank,
		A: kronBuf(p.A), W: kronBuf(p.W), S: kronBuf(p.S), T: kronBuf(p.T), H: kronBuf(p.H), DH: kronBuf(p.DH),
		DA: kronBuf(p.DA), DW: kronBuf(p.DW), DS: kronBuf(p.DS), DT: kronBuf(p.DT)}
}

func (p PHMArgs) params() kernels.PHMParams {
	return kernels.PHMParams{Rows: p.Rows, In: p.In, Out: p.Out, N: p.N, Rank: p.Rank,
		X: kronBuf(p.X), Y: kronBuf(p.Y), A: kronBuf(p.A), W: kronBuf(p.W), S: kronBuf(p.S), T: kronBuf(p.T), Bias: kronBuf(p.Bias),
		DY: kronBuf(p.DY), DX: kronBuf(p.DX), DA: kronBuf(p.DA), DW: kronBuf(p.DW), DS: kronBuf(p.DS), DT: kronBuf(p.DT),
		DBias: kronBuf(p.DBias), Algo: p.Algo, Accumulate: p.Accumulate}
}

// KronSum writes H = Σᵢ kron(A[i], W[i]) (W[i] = S[i]·T[i] when Rank > 0)
// on raw slices, with the assembly kernels where available and all cores.
func KronSum(p KronArgs) error {
	if err := p.params().Validate(false); err != nil {
		return err
	}
	kronDefault.kronSum(&p)
	return nil
}

// KronSumBackward accumulates DA and DW (or DS and DT), those not nil, from
// the gradient DH of H = KronSum(...).
func KronSumBackward(p KronArgs) error {
	if err := p.params().Validate(true); err != nil {
		return err
	}
	kronDefault.kronSumBackward(&p)
	return nil
}

// PHM computes Y = X·H + Bias for the PHM or LPHM layer p on raw slices.
// With Algo = PHMAuto the cost model (ChoosePHM) picks the algorithm.
func PHM(p PHMArgs) error {
	if err := p.params().Validate(false); err != nil {
		return err
	}
	kronDefault.phm(&p, false)
	return nil
}

// PHMBackward overwrites DX (when not nil) and accumulates DA, DW (or DS and
// DT) and DBias (those not nil) from DY, X and the weights.
func PHMBackward(p PHMArgs) error {
	if err := p.params().Validate(true); err != nil {
		return err
	}
	kronDefault.phm(&p, true)
	return nil
}

// SumKron writes H = Σᵢ kron(A[i], B[i]) for A of shape [k, ar, ac], B of
// shape [k, br, bc] and H of shape [ar·br, ac·bc]:
// H[r·br+s, c·bc+t] = Σᵢ A[i,r,c]·B[i,s,t].
func SumKron(k, ar, ac, br, bc int, a, b, h []float32) error {
	if k <= 0 || ar <= 0 || ac <= 0 || br <= 0 || bc <= 0 {
		return fmt.Errorf("cpu: sumkron: sizes k=%d %d×%d ⊗ %d×%d: %w", k, ar, ac, br, bc, kernels.ErrShape)
	}
	if len(a) != k*ar*ac || len(b) != k*br*bc || len(h) != ar*br*ac*bc {
		return fmt.Errorf("cpu: sumkron: lengths A=%d B=%d H=%d, want %d, %d, %d: %w",
			len(a), len(b), len(h), k*ar*ac, k*br*bc, ar*br*ac*bc, kernels.ErrShape)
	}
	kronDefault.sumKron(k, ar, ac, br, bc, a, b, h)
	return nil
}

// scratch pool: reusable float32 slices for H, dH and per-worker buffers.
var kronScratchPool sync.Pool

// kronGetScratch returns a slice of n elements with unspecified contents.
func kronGetScratch(n int) *[]float32 {
	if v, ok := kronScratchPool.Get().(*[]float32); ok && cap(*v) >= n {
		*v = (*v)[:n]
		return v
	}
	s := make([]float32, n)
	return &s
}

func kronPutScratch(s *[]float32) { kronScratchPool.Put(s) }

// sumKron writes H = Σᵢ kron(A[i], B[i]) (see SumKron). Row (r,s) of H,
// viewed as an ac×bc matrix, is Σᵢ A[i,r,:]ᵀ ⊗ B[i,s,:]: one kronAxpy with
// A[:,r,:] transposed.
func (x kronCtx) sumKron(k, ar, ac, br, bc int, a, b, h []float32) {
	at := make([]float32, ar*ac*k) // at[(r·ac+c)·k+i] = A[i,r,c]
	for i := 0; i < k; i++ {
		for rc := 0; rc < ar*ac; rc++ {
			at[rc*k+i] = a[i*ar*ac+rc]
		}
	}
	out := ac * bc
	grain := max(1, 1<<15/max(out*k, 1))
	parallelFor(x.threads, ar*br, grain, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			r, s := row/br, row%br
			kronAxpy(x.simd, ac, bc, k, at[r*ac*k:], k, b[s*bc:], br*bc, h[row*out:], bc, false)
		}
	})
}

// sumKronBackward accumulates dA and dB (those not nil) from the gradient
// dH of H = Σᵢ kron(A[i], B[i]):
//
//	dB[i,s,t] += Σ_{r,c} A[i,r,c]·dH[r·br+s, c·bc+t]
//	dA[i,r,c] += Σ_{s,t} dH[r·br+s, c·bc+t]·B[i,s,t]
func (x kronCtx) sumKronBackward(k, ar, ac, br, bc int, a, b, dh, da, db []float32) {
	out := ac * bc
	if db != nil {
		grain := max(1, 1<<15/max(ar*k*out, 1))
		parallelFor(x.threads, br, grain, func(lo, hi int) {
			for s := lo; s < hi; s++ {
				for r := 0; r < ar; r++ {
					kronAxpy(x.simd, k, bc, ac, a[r*ac:], ar*ac, dh[(r*br+s)*out:], bc, db[s*bc:], br*bc, true)
				}
			}
		})
	}
	if da != nil {
		parallelFor(x.threads, ar, 1, func(lo, hi int) {
			tmp := make([]float32, ac*k) // tmp[c·k+i] = Σ_{s,t} dH[r·br+s, c·bc+t]·B[i,s,t]
			for r := lo; r < hi; r++ {
				for s := 0; s < br; s++ {
					kronDot(x.simd, ac, k, bc, dh[(r*br+s)*out:], bc, b[s*bc:], br*bc, tmp, k, s > 0)
				}
				for i := 0; i < k; i++ {
					for c := 0; c < ac; c++ {
						da[(i*ar+r)*ac+c] += tmp[c*k+i]
					}
				}
			}
		})
	}
}

// lowRankW writes W[i] = S[i]·T[i] into w.
func (x kronCtx) lowRankW(n, p, q, r int, s, t, w []float32) {
	for i := 0; i < n; i++ {
		kronAxpy(x.simd, p, q, r, s[i*p*r:], r, t[i*r*q:], q, w[i*p*q:], q, false)
	}
}

// kronSum materialises H for the layer p.
func (x kronCtx) kronSum(p *KronArgs) {
	n, pp, q := p.N, p.In/p.N, p.Out/p.N
	w := p.W
	if p.Rank > 0 {
		ws := kronGetScratch(n * pp * q)
		defer kronPutScratch(ws)
		w = *ws
		x.lowRankW(n, pp, q, p.Rank, p.S, p.T, w)
	}
	x.sumKron(n, n, n, pp, q, p.A, w, p.H)
}

// kronSumBackward accumulates the weight gradients from p.DH.
func (x kronCtx) kronSumBackward(p *KronArgs) {
	n, pp, q, r := p.N, p.In/p.N, p.Out/p.N, p.Rank
	if r == 0 {
		x.sumKronBackward(n, n, n, pp, q, p.A, p.W, p.DH, p.DA, p.DW)
		return
	}
	ws := kronGetScratch(2 * n * pp * q)
	defer kronPutScratch(ws)
	w, dw := (*ws)[:n*pp*q], (*ws)[n*pp*q:]
	x.lowRankW(n, pp, q, r, p.S, p.T, w)
	var dwp []float32
	if p.DS != nil || p.DT != nil {
		clear(dw)
		dwp = dw
	}
	x.sumKronBackward(n, n, n, pp, q, p.A, w, p.DH, p.DA, dwp)
	for i := 0; dwp != nil && i < n; i++ {
		dwi, si, ti := dw[i*pp*q:], p.S[i*pp*r:], p.T[i*r*q:]
		if p.DS != nil { // dS[i] += dW[i]·T[i]ᵀ
			kronDot(x.simd, pp, r, q, dwi, q, ti, q, p.DS[i*pp*r:], r, true)
		}
		if p.DT != nil { // dT[i] += S[i]ᵀ·dW[i]
			kronAccT(x.simd, pp, q, r, si, r, dwi, q, p.DT[i*r*q:], q)
		}
	}
}

// phm runs the forward (or backward) of a validated layer with the chosen
// algorithm.
func (x kronCtx) phm(p *PHMArgs, backward bool) {
	if p.Rows == 0 {
		return
	}
	algo := p.Algo
	if algo == kernels.PHMAuto {
		algo = ChoosePHM(p.Rows, p.In, p.Out, p.N, p.Rank)
	}
	switch {
	case algo == kernels.PHMMaterialize:
		x.phmMaterialize(p, backward)
	case p.Rank > 0:
		x.lphmFused(p, backward)
	default:
		x.phmFused(p, backward, choosePHMMix(p.In, p.Out, p.N))
	}
}

// kronFillBias sets every row of y (rows of len(bias)) to bias, or to zero
// when bias is nil, for a product that then accumulates into y; with
// accumulate it adds bias to y instead (y unchanged when bias is nil).
func kronFillBias(y, bias []float32, accumulate bool) {
	switch {
	case accumulate && bias == nil:
	case accumulate:
		for o := 0; o+len(bias) <= len(y); o += len(bias) {
			vecAdd(kronDefault.simd, y[o:o+len(bias)], y[o:o+len(bias)], bias)
		}
	case bias == nil:
		clear(y)
	default:
		for o := 0; o+len(bias) <= len(y); o += len(bias) {
			copy(y[o:o+len(bias)], bias)
		}
	}
}

// dxBeta is the beta of the products that write DX: 1 when they add to it.
func (p *PHMArgs) dxBeta() float32 {
	if p.Accumulate {
		return 1
	}
	return 0
}

// kronOnes is a row of ones for column sums as products.
var kronOnes = func() []float32 {
	s := make([]float32, 1024)
	for i := range s {
		s[i] = 1
	}
	return s
}()

// kronSumRows adds the column sums of y (rows of len(dst)) to dst, as
// dst += onesᵀ·y with the skinny kernel.
func kronSumRows(simd bool, dst, y []float32) {
	n := len(dst)
	rows := len(y) / n
	for lo := 0; lo < rows; lo += len(kronOnes) {
		m := min(len(kronOnes), rows-lo)
		kronAccT(simd, m, n, 1, kronOnes, 1, y[lo*n:], n, dst, n)
	}
}

// phmMaterialize builds H and applies dense GEMMs.
func (x kronCtx) phmMaterialize(p *PHMArgs, backward bool) {
	in, out := p.In, p.Out
	hs := kronGetScratch(in * out)
	defer kronPutScratch(hs)
	h := *hs
	k := KronArgs{In: in, Out: out, N: p.N, Rank: p.Rank, A: p.A, W: p.W, S: p.S, T: p.T, H: h,
		DA: p.DA, DW: p.DW, DS: p.DS, DT: p.DT}
	if !backward || p.DX != nil {
		x.kronSum(&k)
	}
	if !backward {
		beta := float32(0)
		if p.Bias != nil || p.Accumulate {
			kronFillBias(p.Y, p.Bias, p.Accumulate)
			beta = 1
		}
		sgemm(x.simd, x.threads, false, false, p.Rows, out, in, 1, p.X, in, h, out, beta, p.Y, out)
		return
	}
	if p.DX != nil {
		sgemm(x.simd, x.threads, false, true, p.Rows, in, out, 1, p.DY, out, h, out, p.dxBeta(), p.DX, in)
	}
	if p.DBias != nil {
		kronSumRows(x.simd, p.DBias, p.DY)
	}
	if p.DA == nil && p.DW == nil && p.DS == nil && p.DT == nil {
		return
	}
	// dH = Xᵀ·dY reuses the scratch of H, which KronSumBackward rebuilds
	// as needed (it only reads the factors).
	sgemm(x.simd, x.threads, true, false, in, out, p.Rows, 1, p.X, in, p.DY, out, 0, h, out)
	k.DH, k.H = h, nil
	x.kronSumBackward(&k)
}

// rowBlock picks the rows per block so that one block's working set
// (floats per row: perRow) stays near 64 KiB, and the number of workers.
func (x kronCtx) rowBlock(rows, perRow int) (blk, workers int) {
	blk = max(1, min(256, (16<<10)/max(perRow, 1)))
	nb := (rows + blk - 1) / blk
	workers = max(1, min(maxThreads(x.threads), nb))
	return blk, workers
}

// kronForBlocks splits rows over workers, each walking its contiguous range in
// blocks of blk rows; fn gets the worker index and the block's rows.
func kronForBlocks(rows, blk, workers int, fn func(w, lo, hi int)) {
	per := (rows + workers - 1) / workers
	parallelFor(workers, workers, 1, func(wlo, whi int) {
		for w := wlo; w < whi; w++ {
			end := min(rows, (w+1)*per)
			for lo := w * per; lo < end; lo += blk {
				fn(w, lo, min(end, lo+blk))
			}
		}
	})
}

// lphmFused is the fused LPHM forward or backward (see the file comment).
func (x kronCtx) lphmFused(p *PHMArgs, backward bool) {
	n, in, out, r := p.N, p.In, p.Out, p.Rank
	pp, q, J := in/n, out/n, n*r
	st := make([]float32, J*pp) // st[(i·r+k)·p+s] = S[i,s,k]
	for i := 0; i < n; i++ {
		for s := 0; s < pp; s++ {
			for k := 0; k < r; k++ {
				st[(i*r+k)*pp+s] = p.S[(i*pp+s)*r+k]
			}
		}
	}
	// mx[(a·n+c)·J+i·r+k] = A[i,a,c] mixes forward, mt (a and c swapped)
	// backward.
	mx, mt := make([]float32, n*n*J), make([]float32, n*n*J)
	for i := 0; i < n; i++ {
		for a := 0; a < n; a++ {
			for c := 0; c < n; c++ {
				for k := 0; k < r; k++ {
					mx[(a*n+c)*J+i*r+k] = p.A[(i*n+a)*n+c]
					mt[(c*n+a)*J+i*r+k] = p.A[(i*n+a)*n+c]
				}
			}
		}
	}
	blk, workers := x.rowBlock(p.Rows, in+out+4*n*J)
	nj := n * J
	if !backward {
		kronForBlocks(p.Rows, blk, workers, func(_, lo, hi int) {
			buf := kronGetScratch(2 * blk * nj)
			defer kronPutScratch(buf)
			rows, m := hi-lo, (hi-lo)*n
			pm, qm := (*buf)[:rows*nj], (*buf)[blk*nj:blk*nj+rows*nj]
			kronDot(x.simd, m, J, pp, p.X[lo*in:hi*in], pp, st, pp, pm, J, false)
			kronMix(x.simd, rows, n, J, mx, pm, qm)
			yb := p.Y[lo*out : hi*out]
			kronFillBias(yb, p.Bias, p.Accumulate)
			kronAxpy(x.simd, m, q, J, qm, J, p.T, q, yb, q, true)
		})
		return
	}
	needP := p.DA != nil || p.DT != nil
	// Per-worker partial gradients, summed in worker order at the end so
	// that the result does not depend on scheduling.
	type partial struct{ dst, dt, dm, db []float32 }
	parts := make([]partial, workers)
	for w := range parts {
		if p.DS != nil {
			parts[w].dst = make([]float32, J*pp)
		}
		if p.DT != nil {
			parts[w].dt = make([]float32, J*q)
		}
		if p.DA != nil {
			parts[w].dm = make([]float32, n*nj)
		}
		if p.DBias != nil {
			parts[w].db = make([]float32, out)
		}
	}
	kronForBlocks(p.Rows, blk, workers, func(w, lo, hi int) {
		buf := kronGetScratch(4 * blk * nj)
		defer kronPutScratch(buf)
		rows, m := hi-lo, (hi-lo)*n
		b := *buf
		pm, qm, dqm, dpm := b[:rows*nj], b[blk*nj:blk*nj+rows*nj], b[2*blk*nj:2*blk*nj+rows*nj], b[3*blk*nj:3*blk*nj+rows*nj]
		xb, dyb := p.X[lo*in:hi*in], p.DY[lo*out:hi*out]
		pt := &parts[w]
		if needP {
			kronDot(x.simd, m, J, pp, xb, pp, st, pp, pm, J, false)
		}
		if p.DT != nil {
			kronMix(x.simd, rows, n, J, mx, pm, qm)
			kronAccT(x.simd, m, q, J, qm, J, dyb, q, pt.dt, q)
		}
		if pt.db != nil {
			kronSumRows(x.simd, pt.db, dyb)
		}
		if p.DA == nil && p.DS == nil && p.DX == nil {
			return
		}
		kronDot(x.simd, m, J, q, dyb, q, p.T, q, dqm, J, false)
		kronMix(x.simd, rows, n, J, mt, dqm, dpm)
		if pt.dm != nil {
			kronMixGrad(x.simd, rows, n, J, pm, dqm, pt.dm)
		}
		if pt.dst != nil {
			kronAccT(x.simd, m, pp, J, dpm, J, xb, pp, pt.dst, pp)
		}
		if p.DX != nil {
			kronAxpy(x.simd, m, pp, J, dpm, J, st, pp, p.DX[lo*in:hi*in], pp, p.Accumulate)
		}
	})
	for _, pt := range parts {
		if pt.dst != nil {
			for i := 0; i < n; i++ {
				for s := 0; s < pp; s++ {
					for k := 0; k < r; k++ {
						p.DS[(i*pp+s)*r+k] += pt.dst[(i*r+k)*pp+s]
					}
				}
			}
		}
		if pt.dt != nil {
			for j, v := range pt.dt {
				p.DT[j] += v
			}
		}
		if pt.dm != nil {
			for i := 0; i < n; i++ {
				for a := 0; a < n; a++ {
					for c := 0; c < n; c++ {
						var s float32
						for k := 0; k < r; k++ {
							s += pt.dm[(a*n+c)*J+i*r+k]
						}
						p.DA[(i*n+a)*n+c] += s
					}
				}
			}
		}
		if pt.db != nil {
			for j, v := range pt.db {
				p.DBias[j] += v
			}
		}
	}
}

// phmSkinny is the largest q (= Out/N) for which the fused PHM multiplies
// by W with the skinny kernels instead of sgemm.
const phmSkinny = 16

// phmFused is the fused full-rank PHM forward or backward with the given
// mixing (kron_phm_mix.go). On the input side: per row
// Z[(c,i),s] = Σ_a A[i,a,c]·X[a,s] (per row, or per block as X·G_in), then
// Y = Z_all·W (W as [In, q]).
func (x kronCtx) phmFused(p *PHMArgs, backward bool, mix phmMix) {
	if mix == phmMixOutGemm {
		x.phmFusedOut(p, backward)
		return
	}
	n, in, out := p.N, p.In, p.Out
	pp, q, nn := in/n, out/n, n*n
	at := make([]float32, nn*n) // at[(c·n+i)·n+a] = A[i,a,c]
	a2 := make([]float32, n*nn) // a2[a·n²+c·n+i] = A[i,a,c]
	for i := 0; i < n; i++ {
		for a := 0; a < n; a++ {
			for c := 0; c < n; c++ {
				v := p.A[(i*n+a)*n+c]
				at[(c*n+i)*n+a] = v
				a2[a*nn+c*n+i] = v
			}
		}
	}
	skinny := q <= phmSkinny
	var wt []float32 // wt[t·In+(i·p+s)] = W[i,s,t]
	if skinny {
		wt = make([]float32, q*in)
		for j := 0; j < in; j++ {
			for t := 0; t < q; t++ {
				wt[t*in+j] = p.W[j*q+t]
			}
		}
	}
	// Blocks of at least 32 rows (128+ GEMM rows) amortise sgemm's packing
	// of W; Z then lives in L3 rather than L2.
	blk, workers := x.rowBlock(p.Rows, 2*n*in+out)
	if !skinny && blk < 32 {
		blk = min(32, p.Rows)
		workers = max(1, min(maxThreads(x.threads), (p.Rows+blk-1)/blk))
	}
	var gin []float32
	if mix == phmMixInGemm {
		gin = phmRuleIn(n, in, p.A)
		if blk < phmGemmBlock {
			blk, workers = phmGemmBlocks(x.threads, p.Rows)
		}
	}
	zsize := blk * n * in
	mixZ := func(rows int, xb, z []float32) {
		if gin != nil {
			sgemm(x.simd, 1, false, false, rows, n*in, in, 1, xb, in, gin, n*in, 0, z, n*in)
			return
		}
		for r := 0; r < rows; r++ {
			kronAxpy(x.simd, nn, pp, n, at, n, xb[r*in:], pp, z[r*n*in:], pp, false)
		}
	}
	if !backward {
		kronForBlocks(p.Rows, blk, workers, func(_, lo, hi int) {
			buf := kronGetScratch(zsize)
			defer kronPutScratch(buf)
			rows, m := hi-lo, (hi-lo)*n
			z := *buf
			mixZ(rows, p.X[lo*in:hi*in], z)
			yb := p.Y[lo*out : hi*out]
			kronFillBias(yb, p.Bias, p.Accumulate)
			if skinny {
				kronDot(x.simd, m, q, in, z, in, wt, in, yb, q, true)
			} else {
				sgemm(x.simd, 1, false, false, m, q, in, 1, z, in, p.W, q, 1, yb, q)
			}
		})
		return
	}
	type partial struct{ dw, dat, dg, db []float32 }
	parts := make([]partial, workers)
	for w := range parts {
		if p.DW != nil {
			parts[w].dw = make([]float32, in*q)
		}
		if p.DA != nil && gin != nil {
			parts[w].dg = make([]float32, in*n*in)
		} else if p.DA != nil {
			parts[w].dat = make([]float32, nn*n)
		}
		if p.DBias != nil {
			parts[w].db = make([]float32, out)
		}
	}
	kronForBlocks(p.Rows, blk, workers, func(w, lo, hi int) {
		buf := kronGetScratch(2 * zsize)
		defer kronPutScratch(buf)
		rows, m := hi-lo, (hi-lo)*n
		z, dz := (*buf)[:zsize], (*buf)[zsize:]
		xb, dyb := p.X[lo*in:hi*in], p.DY[lo*out:hi*out]
		pt := &parts[w]
		if pt.db != nil {
			kronSumRows(x.simd, pt.db, dyb)
		}
		if pt.dw != nil {
			mixZ(rows, xb, z)
			if skinny { // dWᵀ[t,:] += Σ_m dY[m,t]·Z[m,:]
				kronAccT(x.simd, m, in, q, dyb, q, z, in, pt.dw, in)
			} else {
				sgemm(x.simd, 1, true, false, in, q, m, 1, z, in, dyb, q, 1, pt.dw, q)
			}
		}
		if p.DA == nil && p.DX == nil {
			return
		}
		if skinny {
			kronAxpy(x.simd, m, in, q, dyb, q, wt, in, dz, in, false)
		} else {
			sgemm(x.simd, 1, false, true, m, in, q, 1, dyb, q, p.W, q, 0, dz, in)
		}
		if gin != nil {
			if pt.dg != nil { // dG_in += Xᵀ·dZ
				sgemm(x.simd, 1, true, false, in, n*in, rows, 1, xb, in, dz, n*in, 1, pt.dg, n*in)
			}
			if p.DX != nil { // dX = dZ·G_inᵀ
				sgemm(x.simd, 1, false, true, rows, in, n*in, 1, dz, n*in, gin, n*in, p.dxBeta(), p.DX[lo*in:hi*in], in)
			}
			return
		}
		for r := 0; r < rows; r++ {
			dzr, xr := dz[r*n*in:], xb[r*in:]
			if pt.dat != nil { // dAt[(c,i),a] += Σ_s dZ[(c,i),s]·X[a,s]
				kronDot(x.simd, nn, n, pp, dzr, pp, xr, pp, pt.dat, n, true)
			}
			if p.DX != nil { // dX[a,:] = Σ_(c,i) A[i,a,c]·dZ[(c,i),:]
				kronAxpy(x.simd, n, pp, nn, a2, nn, dzr, pp, p.DX[(lo+r)*in:], pp, p.Accumulate)
			}
		}
	})
	for _, pt := range parts {
		if pt.dw != nil {
			if skinny {
				for j := 0; j < in; j++ {
					for t := 0; t < q; t++ {
						p.DW[j*q+t] += pt.dw[t*in+j]
					}
				}
			} else {
				for j, v := range pt.dw {
					p.DW[j] += v
				}
			}
		}
		if pt.dg != nil {
			phmRuleInGrad(n, in, pt.dg, p.DA)
		}
		if pt.dat != nil {
			for i := 0; i < n; i++ {
				for a := 0; a < n; a++ {
					for c := 0; c < n; c++ {
						p.DA[(i*n+a)*n+c] += pt.dat[(c*n+i)*n+a]
					}
				}
			}
		}
		if pt.db != nil {
			for j, v := range pt.db {
				p.DBias[j] += v
			}
		}
	}
}
