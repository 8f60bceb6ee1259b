package t5

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/compacter-go/compacter/kernels"
)

// Backward accumulates the gradient of the pass's mean loss into the G
// buffers of every trainable parameter (call ZeroGrad first, or keep
// accumulating over micro-batches). Frozen parameters get no work beyond
// what the inputs of trainable layers need: weight gradients of frozen
// tensors are skipped, and the backward of a stack stops at the lowest
// block that has (or feeds) a trainable tensor, so the encoder is skipped
// entirely when neither it nor the shared embedding is trainable. The
// dropout masks are the forward's.
func (ps *Pass) Backward() error {
	if ps.dLogits == nil {
		return errors.New("t5: Backward needs a pass made by Forward with wantGrad")
	}
	if ps.Count == 0 {
		return nil // every label ignored: the gradient is zero
	}
	m, be, cfg := ps.m, ps.m.Backend, ps.m.Config
	B, S, T := ps.batch.B, ps.batch.S, ps.batch.T
	D, V, H := cfg.DModel, cfg.VocabSize, cfg.NumHeads
	e := &errs{}
	var tmp []kernels.Buffer
	alloc := func(n int) kernels.Buffer {
		b := ps.alloc(e, n)
		if b != nil {
			tmp = append(tmp, b)
		}
		return b
	}
	defer func() {
		// The scratch buffers are the last ones of ps.bufs: free them now.
		for _, b := range tmp {
			be.Free(b)
		}
		ps.bufs = ps.bufs[:len(ps.bufs)-len(tmp)]
	}()

	// Gradients flow down a stack only as far as something trainable needs:
	// needDec[i] (needEnc[i]) reports a trainable parameter in block i or
	// below, or a trainable parameter that every block feeds (the shared
	// embedding, the stack's position bias, the encoder for the decoder).
	needEnc := m.needBelow("encoder.block.", false, len(m.enc), m.shared.G != nil || m.encRel.G != nil || (m.prompt != nil && m.prompt.G != nil))
	encTrain := needEnc[len(m.enc)-1] || m.encFinal.G != nil
	needDec := m.needBelow("decoder.block.", true, len(m.dec), encTrain || m.shared.G != nil || m.decRel.G != nil)

	// LM head.
	head := m.shared
	if m.lmHead != nil {
		head = m.lmHead
	}
	if m.tiedHead != nil {
		head = m.tiedHead
	}
	nd, ne := B*T, B*S
	dh := alloc(nd * D)
	dy := alloc(nd * D)
	dEnc := alloc(ne * D)
	if e.err != nil {
		return e.err
	}
	// The shared embedding's gradient (the LM head's part, then the
	// decoder's and the encoder's inputs, in that order) is summed at the
	// end, once the fused step has dropped the blocks' activations: the
	// largest gradient then never coexists with them (at t5-base, 94 MiB
	// off the step's peak).
	embeddingGrads := func(dh, dhe kernels.Buffer) {
		if ps.embedChunk != nil { // set by the fused step where m.chunksEmbedding()
			ps.embeddingChunks(e, dh, dhe)
			return
		}
		if head.G != nil {
			e.do(be.Gemm(kernels.GemmParams{TransA: true, M: V, N: D, K: nd, Alpha: 1, Beta: 1, A: ps.dLogits, B: ps.decY, C: head.G}))
		}
		if m.shared.G != nil {
			ps.undrop(e, dh, ps.decEmbOff)
			e.do(be.EmbeddingBackward(m.shared.G, dh, ps.decIDs, D))
		}
		if dhe != nil && m.shared.G != nil {
			e.do(be.EmbeddingBackward(m.shared.G, dhe, ps.inputIDs, D))
		}
	}
	if m.lmBias != nil && m.lmBias.G != nil {
		e.do(be.SumRows(m.lmBias.G, ps.dLogits, nd, V, 1))
	}
	e.do(be.Gemm(kernels.GemmParams{M: nd, N: D, K: V, Alpha: 1, A: ps.dLogits, B: head.W, C: dy}))
	if m.lmHead == nil {
		e.do(be.Scale(dy, float32(math.Pow(float64(D), -0.5))))
	}
	ps.undrop(e, dy, ps.decFinalOff)
	eps := float32(cfg.LayerNormEpsilon)
	e.do(be.RMSNormBackward(kernels.RMSNormParams{Rows: nd, Cols: D, Eps: eps, X: ps.decLast, W: m.decFinal.W, RStd: ps.decRStd, DY: dy, DX: dh, DW: gradOrNil(m.decFinal)}))

	// Decoder blocks, last to first.
	sc := ps.scratch(e, alloc)
	var decBiasG, encBiasG kernels.Buffer // nil while the bias is frozen
	if m.decRel.G != nil {
		decBiasG = alloc(H * T * T)
	}
	if !encTrain {
		dEnc = nil // the encoder output needs no gradient
	}
	for i := len(m.dec) - 1; i >= 0 && needDec[i]; i-- {
		ps.ffnBackward(e, sc, ps.decFFN[i], dh)
		ps.attnBackward(e, sc, ps.crossAttn[i], dh, dEnc, nil)
		ps.attnBackward(e, sc, ps.decAttn[i], dh, nil, decBiasG)
		ps.finishBlock(e, &m.dec[i])
		ps.dropBlock(e, ps.decBlocks, i)
	}
	ps.relBiasBackward(e, sc, m.decRel, decBiasG, ps.decBuckets, T)
	if !encTrain {
		embeddingGrads(dh, nil)
		return e.err
	}

	// Encoder.
	dhe := alloc(ne * D)
	ps.undrop(e, dEnc, ps.encFinalOff)
	e.do(be.RMSNormBackward(kernels.RMSNormParams{Rows: ne, Cols: D, Eps: eps, X: ps.encLast, W: m.encFinal.W, RStd: ps.encRStd, DY: dEnc, DX: dhe, DW: gradOrNil(m.encFinal)}))
	if m.encRel.G != nil {
		encBiasG = alloc(H * S * S)
	}
	for i := len(m.enc) - 1; i >= 0 && needEnc[i]; i-- {
		ps.ffnBackward(e, sc, ps.encFFN[i], dhe)
		ps.attnBackward(e, sc, ps.encAttn[i], dhe, nil, encBiasG)
		ps.finishBlock(e, &m.enc[i])
		ps.dropBlock(e, ps.encBlocks, i)
	}
	ps.relBiasBackward(e, sc, m.encRel, encBiasG, ps.encBuckets, S)
	if m.shared.G != nil || m.prompt != nil {
		ps.undrop(e, dhe, ps.encEmbOff)
		ps.promptBackward(e, dhe)
	}
	embeddingGrads(dh, dhe)
	return e.err
}

// embedChunkBytes is the size of one chunk of the shared embedding's
// gradient that embeddingChunks sums at a time (a variable for tests).
var embedChunkBytes = 8 << 20

// chunkEmbedding turns embeddingChunks on (tests turn it off to compare).
var chunkEmbedding = true

// chunksEmbedding reports whether the fused step sums the shared
// embedding's gradient in chunks (embeddingChunks): the embedding is
// trainable and is the LM head.
func (m *Model) chunksEmbedding() bool {
	return chunkEmbedding && m.shared.G != nil && m.lmHead == nil && m.tiedHead == nil
}

// embeddingChunks is the end of Backward in the fused step when the LM head
// is the trainable shared embedding: its gradient is summed a chunk of
// vocabulary rows at a time (the LM head's part, then the decoder's inputs
// and the encoder's, dhe, unless nil, in the order Backward sums the whole
// gradient, so every element is the same bits) and handed to ps.embedChunk,
// so the whole [vocab, d_model] gradient never exists: at t5-base 94 MiB
// become one 8 MiB chunk, which stays cached between steps in place of the
// whole gradient (full fine-tuning's process peak RSS at t5-base 128/16:
// 3279 → 3201 MiB, bench/RESULTS.md). A chunk has one more row than it
// covers, where the tokens outside it go.
func (ps *Pass) embeddingChunks(e *errs, dh, dhe kernels.Buffer) {
	m, be := ps.m, ps.m.Backend
	V, D := m.Config.VocabSize, m.Config.DModel
	nd := ps.batch.B * ps.batch.T
	ps.undrop(e, dh, ps.decEmbOff)
	rows := min(V, max(1, embedChunkBytes/(4*D)))
	g := ps.alloc(e, (rows+1)*D)
	if g != nil {
		defer func() {
			e.do(be.Free(g))
			ps.bufs = ps.bufs[:len(ps.bufs)-1]
		}()
	}
	type tokens struct {
		dh  kernels.Buffer
		ids []int32
		buf kernels.Buffer // ids mapped into the chunk
		m   []int32
	}
	var ts []*tokens
	for _, t := range []*tokens{{dh: dh, ids: ps.batch.DecoderInputIDs}, {dh: dhe, ids: ps.batch.InputIDs}} {
		if t.dh == nil || e.err != nil {
			continue
		}
		b, err := be.Alloc(kernels.Int32, len(t.ids))
		if err != nil {
			e.do(fmt.Errorf("t5: embedding gradient: %w", err))
			break
		}
		defer func() { e.do(be.Free(b)) }()
		t.buf, t.m = b, make([]int32, len(t.ids))
		ts = append(ts, t)
	}
	for v0 := 0; v0 < V && e.err == nil; v0 += rows {
		r := min(rows, V-v0)
		if v0 > 0 {
			e.do(be.Fill(g, 0))
		}
		c := g.Slice(0, r*D)
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: r, N: D, K: nd, Alpha: 1, Beta: 1, A: ps.dLogits.Slice(v0, nd*V-v0), LDA: V, B: ps.decY, C: c}))
		for _, t := range ts {
			for i, id := range t.ids {
				if j := int(id) - v0; j >= 0 && j < r {
					t.m[i] = int32(j)
				} else {
					t.m[i] = int32(rows) // the spare row
				}
			}
			e.do(be.UploadInt32(t.buf, t.m))
			e.do(be.EmbeddingBackward(g, t.dh, t.buf, D))
		}
		if e.err == nil {
			e.do(ps.embedChunk(v0, v0+r, c))
		}
	}
}

// dropBlock discards the buffers the forward of block i of a stack
// allocated (blocks[i]) once the block's backward is done, in the fused
// step (ps.blockDone set), which releases the pass right after Backward:
// only that block's backward reads them (the block's output, the next
// block's input, was read by the next block's backward, already done), so
// the activations shrink as the backward goes down the stacks. Without
// kernels.Discarder, or outside the fused step, nothing is dropped.
func (ps *Pass) dropBlock(e *errs, blocks [][2]int, i int) {
	d, ok := ps.m.Backend.(kernels.Discarder)
	if !ok || !dropBlocks || ps.blockDone == nil || e.err != nil || i >= len(blocks) {
		return
	}
	for _, b := range ps.bufs[blocks[i][0]:blocks[i][1]] {
		e.do(d.Discard(b))
	}
}

// dropBlocks turns dropBlock on (tests turn it off to compare).
var dropBlocks = true

// finishBlock calls ps.blockDone for a block whose backward is done.
func (ps *Pass) finishBlock(e *errs, b *blockParams) {
	if ps.blockDone != nil && e.err == nil {
		e.do(ps.blockDone(b))
	}
}

// params lists the block's own tensors: its sub-layers' weights and
// norms (not the position bias of block 0, which every block feeds, nor
// the tensors of hooks and biases added to the model).
func (b *blockParams) params() []*Param {
	ps := []*Param{b.self.q, b.self.k, b.self.v, b.self.o, b.self.ln}
	if c := b.cross; c != nil {
		ps = append(ps, c.q, c.k, c.v, c.o, c.ln)
	}
	ps = append(ps, b.ffn.wi, b.ffn.wo, b.ffn.ln)
	if b.ffn.wi1 != nil {
		ps = append(ps, b.ffn.wi1)
	}
	return ps
}

// needBelow returns, for each of n blocks under prefix, whether block i or
// a block below it has a trainable parameter (or a sub-layer hook with
// trainable tensors), or always is set.
func (m *Model) needBelow(prefix string, decoder bool, n int, always bool) []bool {
	need := make([]bool, n)
	for _, p := range m.Params {
		if p.G == nil || !strings.HasPrefix(p.Name, prefix) {
			continue
		}
		rest := strings.TrimPrefix(p.Name, prefix)
		if i, err := strconv.Atoi(rest[:strings.IndexByte(rest, '.')]); err == nil && i < n {
			need[i] = true
		}
	}
	for i := range need {
		need[i] = need[i] || always || (i > 0 && need[i-1]) || m.hookTrainable(decoder, i)
	}
	return need
}

func gradOrNil(p *Param) kernels.Buffer {
	if p.G == nil {
		return nil
	}
	return p.G
}

// scratch buffers shared by the sub-layer backwards, sized for the largest.
type scratch struct {
	dxn, dx, dout    kernels.Buffer // [rows, D]
	d1               kernels.Buffer // [rows, max(inner, d_ff)]
	d2, d3           kernels.Buffer // [rows, inner], or as d1 when the FFN is gated
	d4               kernels.Buffer // [rows, inner]
	dq, dk, dv, dctx kernels.Buffer // heads layout [B, H, len, d_kv]; nil when the heads are read in place
	dp               kernels.Buffer // [B, H, tq, tk], or three [B, tq, tk] when inPlace
	du, dpr          kernels.Buffer // reassociated cross-attention (crossBackward), nil without
}

func (ps *Pass) scratch(e *errs, alloc func(int) kernels.Buffer) *scratch {
	cfg := ps.m.Config
	B, S, T := ps.batch.B, ps.batch.S, ps.batch.T
	rows := B * max(S, T)
	w := max(cfg.Inner(), cfg.DFF)
	inner := cfg.Inner()
	w2 := inner // d2, d3: dq, dk of attention, and the gated FFN's branches
	if ps.m.gated {
		w2 = w
	}
	sc := &scratch{
		dxn: alloc(rows * cfg.DModel), dx: alloc(rows * cfg.DModel), dout: alloc(rows * cfg.DModel),
		d1: alloc(rows * w), d2: alloc(rows * w2), d3: alloc(rows * w2), d4: alloc(rows * inner),
	}
	L, H := max(S, T), cfg.NumHeads
	if kernels.HeadsInPlace(ps.m.Backend) {
		// Three [B, tq, tk] of one head; relBiasBackward's [H, n, n].
		sc.dp = alloc(max(3*B, H) * L * L)
	} else {
		sc.dp = alloc(B * H * L * L)
		sc.dq, sc.dk, sc.dv, sc.dctx = alloc(rows*inner), alloc(rows*inner), alloc(rows*inner), alloc(rows*inner)
	}
	for _, a := range ps.crossAttn {
		if a != nil && a.reassoc {
			sc.du, sc.dpr = alloc(2*B*T*H*cfg.DModel), alloc(2*B*T*H*S) // dU/dQ̃ and the recomputed U/Q̃; dP and a permuted copy
			break
		}
	}
	return sc
}

// linearBackward accumulates dW += dyᵀ·x (unless w is frozen) and computes
// dx = dy·W (beta 0) or dx += dy·W (beta 1) when dx is not nil, for
// y = x·Wᵀ with x [rows, in], W [out, in].
func linearBackward(e *errs, be kernels.Backend, w *Param, dy, x, dx kernels.Buffer, rows, in, out int, beta float32) {
	biasBackward(e, be, w, dy, rows)
	if w.G != nil {
		if x == nil {
			// The forward did not keep the input: w was frozen then.
			e.do(fmt.Errorf("t5: %s was made trainable after the forward pass: run the forward again", w.Name))
			return
		}
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: out, N: in, K: rows, Alpha: 1, Beta: 1, A: dy, B: x, C: w.G}))
	}
	if dx != nil {
		e.do(be.Gemm(kernels.GemmParams{M: rows, N: in, K: out, Alpha: 1, Beta: beta, A: dy, B: w.W, C: dx}))
	}
}

// outGrad returns the gradient of a sub-layer's output before its dropout:
// dh itself without dropout, else dh through the mask of offset off.
func (ps *Pass) outGrad(e *errs, sc *scratch, dh kernels.Buffer, rows int, off uint64) kernels.Buffer {
	if ps.drop == 0 {
		return dh
	}
	dout := sc.dout.Slice(0, rows*ps.m.Config.DModel)
	e.do(ps.m.Backend.Dropout(dout, dh, ps.drop, ps.m.dropSeed, off))
	return dout
}

// renorm recomputes a sub-layer's normed input norm(hIn) (the forward
// did not keep it, see Pass.normOut) into the scratch sc.dx, which
// normBackward overwrites only after the products have read it, when one
// of ws has a weight gradient that reads it; else it returns nil. The same
// kernel on the same hIn and weights gives the forward's bits (and rewrites
// rstd with its own values).
func (ps *Pass) renorm(e *errs, sc *scratch, ln *Param, hIn, rstd kernels.Buffer, rows int, ws ...*Param) kernels.Buffer {
	if !trainable(ws...) || e.err != nil {
		return nil
	}
	be, D := ps.m.Backend, ps.m.Config.DModel
	xn := sc.dx.Slice(0, rows*D)
	e.do(be.RMSNorm(kernels.RMSNormParams{Rows: rows, Cols: D, Eps: float32(ps.m.Config.LayerNormEpsilon), X: hIn, W: ln.W, Y: xn, RStd: rstd}))
	addBias(e, be, ln, xn, rows)
	return xn
}

// normBackward backpropagates dxn through the sub-layer's RMS norm and adds
// the result to the residual gradient dh.
func (ps *Pass) normBackward(e *errs, sc *scratch, ln *Param, hIn, rstd, dxn, dh kernels.Buffer, rows int) {
	be, D := ps.m.Backend, ps.m.Config.DModel
	dx := sc.dx.Slice(0, rows*D)
	biasBackward(e, be, ln, dxn, rows)
	e.do(be.RMSNormBackward(kernels.RMSNormParams{Rows: rows, Cols: D, Eps: float32(ps.m.Config.LayerNormEpsilon),
		X: hIn, W: ln.W, RStd: rstd, DY: dxn, DX: dx, DW: gradOrNil(ln)}))
	e.do(be.Binary(kernels.Add, dh, dh, dx))
}

// ffnBackward backpropagates the residual gradient dh (in place) through
// one feed-forward sub-layer.
func (ps *Pass) ffnBackward(e *errs, sc *scratch, f *ffnAct, dh kernels.Buffer) {
	if e.err != nil {
		return
	}
	be, cfg := ps.m.Backend, ps.m.Config
	D, F, rows := cfg.DModel, cfg.DFF, f.rows
	w := f.w
	dout := ps.outGrad(e, sc, dh, rows, f.offOut)
	dout = ps.hookBackward(e, sc, f.hook, dout, dh, rows)
	dr := sc.d1.Slice(0, rows*F)
	linearBackward(e, be, w.wo, dout, f.r, dr, rows, F, D, 0)
	ps.undrop(e, dr, f.offH)
	dxn := sc.dxn.Slice(0, rows*D)
	xn := ps.renorm(e, sc, w.ln, f.hIn, f.rstd, rows, w.wi, w.wi1)
	if ps.m.gated {
		dg, da1 := sc.d2.Slice(0, rows*F), sc.d3.Slice(0, rows*F)
		e.do(be.Binary(kernels.Mul, dg, dr, f.a1))
		e.do(be.Binary(kernels.Mul, da1, dr, f.g))
		e.do(be.ActBackward(ps.m.act, dg, dg, f.a))
		linearBackward(e, be, w.wi, dg, xn, dxn, rows, D, F, 0)
		linearBackward(e, be, w.wi1, da1, xn, dxn, rows, D, F, 1)
	} else {
		if f.mask != nil {
			e.do(be.(kernels.SignMasker).ApplyMask(dr, dr, f.mask))
		} else {
			e.do(be.ActBackward(ps.m.act, dr, dr, f.a))
		}
		linearBackward(e, be, w.wi, dr, xn, dxn, rows, D, F, 0)
	}
	ps.normBackward(e, sc, w.ln, f.hIn, f.rstd, dxn, dh, rows)
}

// attnBackward backpropagates the residual gradient dh (in place) through
// one attention sub-layer. For cross-attention the gradient of the encoder
// output is added to dEnc; biasG (self-attention, nil when the bias is
// frozen) accumulates the gradient of the position bias [H, tq, tk].
func (ps *Pass) attnBackward(e *errs, sc *scratch, a *attnAct, dh, dEnc, biasG kernels.Buffer) {
	if e.err != nil {
		return
	}
	be, cfg := ps.m.Backend, ps.m.Config
	B, D, H, dk, inner := ps.batch.B, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner()
	tq, tk := a.tq, a.tk
	nq, nk := B*tq, B*tk
	w := a.w
	split := [4]int{0, 2, 1, 3}

	dout := ps.outGrad(e, sc, dh, nq, a.offOut)
	dout = ps.hookBackward(e, sc, a.hook, dout, dh, nq)
	dctxM := sc.d1.Slice(0, nq*inner)
	linearBackward(e, be, w.o, dout, a.ctx, dctxM, nq, inner, D, 0)
	dQ, dK, dV := sc.d2.Slice(0, nq*inner), sc.d3.Slice(0, nk*inner), sc.d4.Slice(0, nk*inner)
	if a.reassoc {
		ps.crossBackward(e, sc, a, dctxM, dQ, dEnc)
	} else if a.inPlace {
		// The heads in place: dctx, q, k, v, dQ, dK and dV are all
		// [rows, inner], head h in columns h·d_kv…. One head at a time,
		// its probabilities recomputed (the forward did not keep them):
		// p, dP and the dropped-out p of a head, [B, tq, tk] each, stay in
		// cache through the head's products.
		n := B * tq * tk
		p, dp, pd := sc.dp.Slice(0, n), sc.dp.Slice(n, n), sc.dp.Slice(2*n, n)
		probs := p
		if ps.drop == 0 {
			pd = nil
		} else {
			probs = pd
		}
		dctx := ps.rowHeads(dctxM, tq)
		for h := 0; h < H && e.err == nil; h++ {
			ps.headProbs(e, a, h, p, pd)
			ps.headGemm(e, h, false, true, tq, tk, dk, dctx, ps.rowHeads(a.v, tk), ps.oneHead(dp, tq, tk))
			if pd != nil {
				ps.headDrop(e, a, h, dp)
			}
			ps.headGemm(e, h, true, false, tk, dk, tq, ps.oneHead(probs, tq, tk), dctx, ps.rowHeads(dV, tk))
			e.do(be.SoftmaxBackward(dp, dp, p, B*tq, tk))
			if a.relBias && biasG != nil {
				e.do(be.SumRows(biasG.Slice(h*tq*tk, tq*tk), dp, B, tq*tk, 1))
			}
			ps.headGemm(e, h, false, false, tq, dk, tk, ps.oneHead(dp, tq, tk), ps.rowHeads(a.k, tk), ps.rowHeads(dQ, tq))
			ps.headGemm(e, h, true, false, tk, dk, tq, ps.oneHead(dp, tq, tk), ps.rowHeads(a.q, tq), ps.rowHeads(dK, tk))
		}
	} else {
		dp := sc.dp.Slice(0, B*H*tq*tk)
		probs := a.p
		if a.pd != nil {
			probs = a.pd
		}
		dctx := sc.dctx.Slice(0, nq*inner)
		e.do(be.Permute(dctx, dctxM, [4]int{B, tq, H, dk}, split))
		// dP = dctx·vᵀ, dv = Pᵀ·dctx.
		e.do(be.Gemm(kernels.GemmParams{TransB: true, M: tq, N: tk, K: dk, Alpha: 1, A: dctx, B: a.v, C: dp,
			Batch: B * H, StrideA: tq * dk, StrideB: tk * dk, StrideC: tq * tk}))
		dv := sc.dv.Slice(0, nk*inner)
		if a.pd != nil {
			ps.undrop(e, dp, a.offP)
		}
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: tk, N: dk, K: tq, Alpha: 1, A: probs, B: dctx, C: dv,
			Batch: B * H, StrideA: tq * tk, StrideB: tq * dk, StrideC: tk * dk}))
		e.do(be.SoftmaxBackward(dp, dp, a.p, B*H*tq, tk))
		if a.relBias && biasG != nil {
			e.do(be.SumRows(biasG, dp, B, H*tq*tk, 1))
		}
		// dq = dS·k, dk = dSᵀ·q.
		dq := sc.dq.Slice(0, nq*inner)
		e.do(be.Gemm(kernels.GemmParams{M: tq, N: dk, K: tk, Alpha: 1, A: dp, B: a.k, C: dq,
			Batch: B * H, StrideA: tq * tk, StrideB: tk * dk, StrideC: tq * dk}))
		dkh := sc.dk.Slice(0, nk*inner)
		e.do(be.Gemm(kernels.GemmParams{TransA: true, M: tk, N: dk, K: tq, Alpha: 1, A: dp, B: a.q, C: dkh,
			Batch: B * H, StrideA: tq * tk, StrideB: tq * dk, StrideC: tk * dk}))
		// Merge heads back to [rows, inner].
		e.do(be.Permute(dQ, dq, [4]int{B, H, tq, dk}, split))
		e.do(be.Permute(dK, dkh, [4]int{B, H, tk, dk}, split))
		e.do(be.Permute(dV, dv, [4]int{B, H, tk, dk}, split))
	}
	dxn := sc.dxn.Slice(0, nq*D)
	if a.kvIn != nil {
		xn := ps.renorm(e, sc, w.ln, a.hIn, a.rstd, nq, w.q)
		linearBackward(e, be, w.q, dQ, xn, dxn, nq, D, inner, 0)
		if !a.reassoc {
			linearBackward(e, be, w.k, dK, a.kvIn, dEnc, nk, D, inner, 1)
			linearBackward(e, be, w.v, dV, a.kvIn, dEnc, nk, D, inner, 1)
		}
	} else {
		xn := ps.renorm(e, sc, w.ln, a.hIn, a.rstd, nq, w.q, w.k, w.v)
		linearBackward(e, be, w.q, dQ, xn, dxn, nq, D, inner, 0)
		linearBackward(e, be, w.k, dK, xn, dxn, nk, D, inner, 1)
		linearBackward(e, be, w.v, dV, xn, dxn, nk, D, inner, 1)
	}
	ps.normBackward(e, sc, w.ln, a.hIn, a.rstd, dxn, dh, nq)
}

// relBiasBackward scatters the position-bias gradient [H, n, n] into the
// relative_attention_bias table of block 0.
func (ps *Pass) relBiasBackward(e *errs, sc *scratch, rel *Param, biasG, ids kernels.Buffer, n int) {
	if biasG == nil || e.err != nil {
		return
	}
	H := ps.m.Config.NumHeads
	t := sc.dp.Slice(0, H*n*n)
	e.do(ps.m.Backend.Permute(t, biasG, [4]int{1, H, n, n}, [4]int{0, 2, 3, 1}))
	e.do(ps.m.Backend.EmbeddingBackward(rel.G, t, ids, H))
}
