package t5

import (
	"os"

	"github.com/compacter-go/compacter/kernels"
)

// Cross-attention, reassociated.
//
// The decoder's cross-attention projects the encoder output H, [B·tk,
// d_model], into keys and values, K = H·W_kᵀ and V = H·W_vᵀ: two products of
// B·tk × d_model × inner in the forward and two more for H's gradient, in
// every decoder layer. With few targets (GLUE's are a few tokens; tq = 16
// at t5-base against tk = 128 sources) those products are most of the
// sub-layer's work, while the attention itself, tq × tk per head, is small.
// Per head h (W_k,h the rows h·d_kv… of W_k, [d_kv, d_model]) the scores
// and context reassociate:
//
//	scores_h = q_h·K_hᵀ = (q_h·W_k,h)·Hᵀ = Q̃_h·Hᵀ      Q̃_h [tq, d_model]
//	ctx_h    = P_h·V_h  = (P_h·H)·W_v,hᵀ = U_h·W_v,hᵀ   U_h [tq, d_model]
//
// so that no [B·tk, inner] projection exists: per example the products are
// Q̃·Hᵀ and P·H with the heads stacked as rows (H·tq × d_model × tk), and
// per head the small ones q_h·W_k,h and U_h·W_v,hᵀ (B·tq × d_kv × d_model).
// At t5-base, 128 sources and 16 targets, the sub-layer's forward and
// backward multiply-adds fall from 311 M to 160 M per example (PEFT; with
// W_k and W_v trained, 462 M to 198 M), the backward's recomputation of Q̃
// and U included.
//
// Layouts: Q̃ and U are [B, tq, H, d_model] (row (b, t) of head h at
// (b·tq + t)·H·d_model + h·d_model, so the per-head products address every
// B·tq row with one leading dimension, H·d_model, and each example's heads
// are one [tq·H, d_model] block); the probabilities P are [B, tq, H, tk].
// Dropout of the probabilities uses the offsets of the [B, H, tq, tk] order
// of the other paths (P is permuted around the mask), so the three paths
// drop the same elements.
//
// The path applies to cross-attention on backends that read heads in place
// (the CPU's), when the key and value layers have no bias (a bias of the
// keys would shift whole rows of scores; BitFit's layers keep the direct
// path), the masks are per example only (the padding mask), and the
// reassociated work is at most 0.7 of the direct one (the new products are
// narrower and run below the big ones' rate; a t5-small step at 128/128
// sources and targets stays on the direct path).

// crossReassoc selects the cross-attention path: 0 picks by cost
// (reassociates), 1 reassociates wherever the path applies, −1 never. Tests
// set it; COMPACTER_CROSS_REASSOC=off (or on) sets it at init, to compare
// the two paths in benchmarks.
var crossReassoc = map[string]int{"on": 1, "off": -1}[os.Getenv("COMPACTER_CROSS_REASSOC")]

// reassociates reports whether the cross-attention sub-layer w, tq queries
// against tk encoder positions with the given masks, takes the
// reassociated path, on a backend that reads heads in place (the caller
// checks that).
func (ps *Pass) reassociates(w *attnParams, tq, tk int, masks []kernels.AdditiveMask) bool {
	if crossReassoc < 0 || w.k.Bias != nil || w.v.Bias != nil {
		return false
	}
	for _, m := range masks {
		if m.StrideHead != 0 || m.StrideRow != 0 {
			return false
		}
	}
	if crossReassoc > 0 {
		return true
	}
	cfg := ps.m.Config
	D, H, inner := cfg.DModel, cfg.NumHeads, cfg.Inner()
	// Multiply-adds per example, forward and backward (the reassociated
	// backward recomputes Q̃, and U when W_v trains).
	direct := 4*tk*D*inner + 6*tq*tk*inner
	re := 5*tq*inner*D + 6*H*tq*tk*D
	for _, p := range []*Param{w.k, w.v} {
		if p.G != nil {
			direct += tk * D * inner // its weight gradient
			re += tq * inner * D
		}
	}
	if w.v.G != nil {
		re += H * tq * tk * D
	}
	return 10*re <= 7*direct
}

// crossForward computes the context [B·tq, inner] of the reassociated
// cross-attention from the normed decoder stream xn (see the comment at
// the top of the file), recording in a what the backward reads.
func (ps *Pass) crossForward(e *errs, a *attnAct, xn kernels.Buffer) kernels.Buffer {
	be, cfg := ps.m.Backend, ps.m.Config
	B, D, H, dk, inner := ps.batch.B, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner()
	tq, tk, w := a.tq, a.tk, a.w
	nq, n, nu := B*tq, B*tq*H*tk, B*tq*H*D
	e.do(linear(be, a.q, xn, w.q.W, nq, D, inner))
	addBias(e, be, w.q, a.q, nq)
	a.p = ps.actOut(e, n)
	qt := ps.temp(e, nu)
	if e.err != nil {
		return nil
	}
	ps.crossQt(e, a, qt)
	// Scores Q̃_b·H_bᵀ, [tq·H, tk] per example, and their softmax.
	e.do(be.Gemm(kernels.GemmParams{TransB: true, M: tq * H, N: tk, K: D, Alpha: 1, A: qt, B: a.kvIn, C: a.p,
		Batch: B, StrideA: tq * H * D, StrideB: tk * D, StrideC: tq * H * tk}))
	e.do(be.Softmax(kernels.SoftmaxParams{X: a.p, Y: a.p, Batch: B, Heads: 1, Rows: tq * H, Cols: tk, Masks: a.masks}))
	probs := a.p
	a.offP = ps.reserveDropout(n)
	if ps.drop != 0 {
		a.pd = ps.actOut(e, n)
		ps.dropHeads(e, a, a.pd, a.p, ps.temp(e, n))
		probs = a.pd
	}
	// U_b = P_b·H_b (Q̃ is dead: U takes its scratch).
	u := ps.temp(e, nu)
	ps.crossU(e, a, u, probs)
	// ctx_h = U_h·W_v,hᵀ. xn is dead: the context may take its scratch.
	ctx, kept := ps.keepOrTemp(e, nq*inner, w.o)
	a.ctx = kept
	e.do(be.Gemm(kernels.GemmParams{TransB: true, M: nq, N: dk, K: D, Alpha: 1, A: u, LDA: H * D, B: w.v.W, C: ctx, LDC: inner,
		Batch: H, StrideA: D, StrideB: dk * D, StrideC: dk}))
	return ctx
}

// crossQt computes Q̃_h = q_h·W_k,h into qt, [B, tq, H, d_model]: the
// heads one batched product. The backward recomputes it (B·tq·inner·d_model
// multiply-adds, 1/8 of the sub-layer's at t5-base 128/16) instead of the
// forward keeping B·tq·H·d_model floats per sub-layer.
func (ps *Pass) crossQt(e *errs, a *attnAct, qt kernels.Buffer) {
	cfg := ps.m.Config
	D, H, dk, inner := cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner()
	e.do(ps.m.Backend.Gemm(kernels.GemmParams{M: ps.batch.B * a.tq, N: D, K: dk, Alpha: 1, A: a.q, LDA: inner, B: a.w.k.W, C: qt, LDC: H * D,
		Batch: H, StrideA: dk, StrideB: dk * D, StrideC: D}))
}

// crossU computes U_b = P_b·H_b into u, [B, tq, H, d_model], from the
// probabilities probs (after dropout); the backward recomputes it for W_v's
// gradient, as crossQt.
func (ps *Pass) crossU(e *errs, a *attnAct, u, probs kernels.Buffer) {
	cfg := ps.m.Config
	D, H, tq, tk := cfg.DModel, cfg.NumHeads, a.tq, a.tk
	e.do(ps.m.Backend.Gemm(kernels.GemmParams{M: tq * H, N: D, K: tk, Alpha: 1, A: probs, B: a.kvIn, C: u,
		Batch: ps.batch.B, StrideA: tq * H * tk, StrideB: tk * D, StrideC: tq * H * D}))
}

// dropHeads applies the dropout of the probabilities (offsets a.offP, in
// the [B, H, tq, tk] order) to src, [B, tq, H, tk], into dst of the same
// layout, through the scratch t: the forward's mask and its backward.
func (ps *Pass) dropHeads(e *errs, a *attnAct, dst, src, t kernels.Buffer) {
	if e.err != nil {
		return
	}
	be, H := ps.m.Backend, ps.m.Config.NumHeads
	B, tq, tk := ps.batch.B, a.tq, a.tk
	split := [4]int{0, 2, 1, 3}
	e.do(be.Permute(t, src, [4]int{B, tq, H, tk}, split))
	ps.undrop(e, t, a.offP)
	e.do(be.Permute(dst, t, [4]int{B, H, tq, tk}, split))
}

// crossBackward backpropagates the context gradient dctx [B·tq, inner] of
// the reassociated cross-attention into dQ [B·tq, inner], the encoder
// output's gradient dEnc (added; nil when the encoder trains nothing) and
// the gradients of W_k and W_v.
func (ps *Pass) crossBackward(e *errs, sc *scratch, a *attnAct, dctx, dQ, dEnc kernels.Buffer) {
	be, cfg := ps.m.Backend, ps.m.Config
	B, D, H, dk, inner := ps.batch.B, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner()
	tq, tk, w := a.tq, a.tk, a.w
	nq, n, nu := B*tq, B*tq*H*tk, B*tq*H*D
	du, dp, rc := sc.du.Slice(0, nu), sc.dpr.Slice(0, n), sc.du.Slice(nu, nu)
	probs := a.p
	if a.pd != nil {
		probs = a.pd
	}
	// dU_h = dctx_h·W_v,h; dW_v,h += dctx_hᵀ·U_h (the heads batched).
	e.do(be.Gemm(kernels.GemmParams{M: nq, N: D, K: dk, Alpha: 1, A: dctx, LDA: inner, B: w.v.W, C: du, LDC: H * D,
		Batch: H, StrideA: dk, StrideB: dk * D, StrideC: D}))
	if w.v.G != nil {
		ps.crossU(e, a, rc, probs)
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: dk, N: D, K: nq, Alpha: 1, Beta: 1, A: dctx, LDA: inner, B: rc, LDB: H * D, C: w.v.G,
			Batch: H, StrideA: dk, StrideB: D, StrideC: dk * D}))
	}
	// dP_b = dU_b·H_bᵀ; dH_b += P_bᵀ·dU_b.
	e.do(be.Gemm(kernels.GemmParams{TransB: true, M: tq * H, N: tk, K: D, Alpha: 1, A: du, B: a.kvIn, C: dp,
		Batch: B, StrideA: tq * H * D, StrideB: tk * D, StrideC: tq * H * tk}))
	if dEnc != nil {
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: tk, N: D, K: tq * H, Alpha: 1, Beta: 1, A: probs, B: du, C: dEnc,
			Batch: B, StrideA: tq * H * tk, StrideB: tq * H * D, StrideC: tk * D}))
	}
	if a.pd != nil {
		ps.dropHeads(e, a, dp, dp, sc.dpr.Slice(n, n))
	}
	e.do(be.SoftmaxBackward(dp, dp, a.p, B*tq*H, tk))
	// dQ̃_b = dS_b·H_b (into dU's scratch, dead now); dH_b += dS_bᵀ·Q̃_b.
	dqt := du
	e.do(be.Gemm(kernels.GemmParams{M: tq * H, N: D, K: tk, Alpha: 1, A: dp, B: a.kvIn, C: dqt,
		Batch: B, StrideA: tq * H * tk, StrideB: tk * D, StrideC: tq * H * D}))
	if dEnc != nil {
		ps.crossQt(e, a, rc)
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: tk, N: D, K: tq * H, Alpha: 1, Beta: 1, A: dp, B: rc, C: dEnc,
			Batch: B, StrideA: tq * H * tk, StrideB: tq * H * D, StrideC: tk * D}))
	}
	// dq_h = dQ̃_h·W_k,hᵀ; dW_k,h += q_hᵀ·dQ̃_h (the heads batched).
	e.do(be.Gemm(kernels.GemmParams{TransB: true, M: nq, N: dk, K: D, Alpha: 1, A: dqt, LDA: H * D, B: w.k.W, C: dQ, LDC: inner,
		Batch: H, StrideA: D, StrideB: dk * D, StrideC: dk}))
	if w.k.G != nil {
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: dk, N: D, K: nq, Alpha: 1, Beta: 1, A: a.q, LDA: inner, B: dqt, LDB: H * D, C: w.k.G,
			Batch: H, StrideA: dk, StrideB: D, StrideC: dk * D}))
	}
}
