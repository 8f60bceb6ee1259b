package t5

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// Generate decodes greedily with a key/value cache: the encoder runs once,
// the cross-attention keys and values are computed once per layer, and each
// step runs the decoder on one new token per sequence, attending to the
// cached self-attention keys and values of the earlier ones. inputIDs and
// attentionMask (nil: all ones) are [B, S]. Decoding starts from
// decoder_start_token_id and stops after maxLen tokens or when every
// sequence has produced eos_token_id. The result holds each sequence's
// tokens without the start token, up to and including its eos.
// GenerateBeam decodes with beam search on the same cache.
func (m *Model) Generate(inputIDs, attentionMask []int32, B, S, maxLen int) ([][]int32, error) {
	if maxLen <= 0 {
		return nil, fmt.Errorf("t5: maxLen %d must be positive", maxLen)
	}
	batch := Batch{B: B, S: S, T: 1, InputIDs: inputIDs, AttentionMask: attentionMask, DecoderInputIDs: make([]int32, B)}
	if err := m.checkBatch(&batch); err != nil {
		return nil, err
	}
	ps := &Pass{m: m, batch: m.withPrompt(batch), infer: true}
	defer ps.Release()
	g := &generator{ps: ps, L: maxLen}
	if err := g.setup(); err != nil {
		return nil, err
	}
	out := make([][]int32, B)
	done := make([]bool, B)
	ids := make([]int32, B)
	for i := range ids {
		ids[i] = int32(m.Config.DecoderStartTokenID)
	}
	logits := make([]float32, B*m.Config.VocabSize)
	for t := 0; t < maxLen; t++ {
		if err := g.step(t, ids, logits); err != nil {
			return nil, err
		}
		all := true
		for b := range ids {
			if done[b] {
				ids[b] = int32(m.Config.PadTokenID)
				continue
			}
			ids[b] = int32(argmax(logits[b*m.Config.VocabSize : (b+1)*m.Config.VocabSize]))
			out[b] = append(out[b], ids[b])
			done[b] = ids[b] == int32(m.Config.EOSTokenID)
			all = all && done[b]
		}
		if all {
			break
		}
	}
	return out, nil
}

func argmax(v []float32) int {
	best, bi := float32(math.Inf(-1)), 0
	for i, x := range v {
		if x > best {
			best, bi = x, i
		}
	}
	return bi
}

// generator holds the caches and per-step buffers of Generate.
type generator struct {
	ps *Pass
	L  int
	// expand > 1 (beam search) decodes expand rows per encoded row: the
	// encoder and the cross-attention keys and values run once per input,
	// and their rows are copied to its expand decoder rows.
	expand              int
	crossMask           kernels.Buffer
	bias                kernels.Buffer // [H, L, L] causal position bias
	selfK, selfV        []kernels.Buffer
	crossK, crossV      []kernels.Buffer
	ids                 kernels.Buffer
	h, xn, rstd, q, ctx kernels.Buffer
	out, scores         kernels.Buffer
	a, a1, g, r         kernels.Buffer
	logits              kernels.Buffer
}

func (g *generator) setup() error {
	ps, m, be, cfg := g.ps, g.ps.m, g.ps.m.Backend, g.ps.m.Config
	B, S, L, D, H, dk, inner, F := ps.batch.B, ps.batch.S, g.L, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner(), cfg.DFF
	e := &errs{}
	g.crossMask = ps.encode(e)
	g.bias = ps.posBias(e, m.decRel, ps.allocInt(e, m.buckets(L, L, false)), L)
	tmp := ps.alloc(e, B*S*inner)
	for i := range m.dec {
		w := m.dec[i].cross
		k, v := ps.alloc(e, B*S*inner), ps.alloc(e, B*S*inner)
		e.do(linear(be, tmp, ps.EncoderOut, w.k.W, B*S, D, inner))
		addBias(e, be, w.k, tmp, B*S)
		e.do(be.Permute(k, tmp, [4]int{B, S, H, dk}, [4]int{0, 2, 1, 3}))
		e.do(linear(be, tmp, ps.EncoderOut, w.v.W, B*S, D, inner))
		addBias(e, be, w.v, tmp, B*S)
		e.do(be.Permute(v, tmp, [4]int{B, S, H, dk}, [4]int{0, 2, 1, 3}))
		g.crossK, g.crossV = append(g.crossK, k), append(g.crossV, v)
	}
	if g.expand > 1 {
		B = g.expandRows(e)
	}
	for range m.dec {
		g.selfK = append(g.selfK, ps.alloc(e, L*B*inner))
		g.selfV = append(g.selfV, ps.alloc(e, L*B*inner))
	}
	ids, err := be.Alloc(kernels.Int32, B)
	if err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	ps.bufs = append(ps.bufs, ids)
	g.ids = ids
	g.h, g.xn, g.rstd, g.out = ps.alloc(e, B*D), ps.alloc(e, B*D), ps.alloc(e, B), ps.alloc(e, B*D)
	g.q, g.ctx = ps.alloc(e, B*inner), ps.alloc(e, B*inner)
	g.scores = ps.alloc(e, B*H*max(S, L))
	g.a, g.r = ps.alloc(e, B*F), ps.alloc(e, B*F)
	if m.gated {
		g.a1, g.g = ps.alloc(e, B*F), ps.alloc(e, B*F)
	}
	g.logits = ps.alloc(e, B*cfg.VocabSize)
	return e.err
}

// expandRows copies every encoded row of the cross-attention mask, keys
// and values to g.expand consecutive decoder rows (the row-gather of
// Embedding), makes the pass decode B·expand rows and returns that count.
func (g *generator) expandRows(e *errs) int {
	ps, be := g.ps, g.ps.m.Backend
	B, S, inner, k := ps.batch.B, ps.batch.S, ps.m.Config.Inner(), g.expand
	rows := make([]int32, B*k)
	for r := range rows {
		rows[r] = int32(r / k)
	}
	ids := ps.allocInt(e, rows)
	gather := func(src kernels.Buffer, dim int) kernels.Buffer {
		dst := ps.alloc(e, B*k*dim)
		if e.err == nil {
			e.do(be.Embedding(dst, src, ids, dim))
		}
		return dst
	}
	g.crossMask = gather(g.crossMask, S)
	for i := range g.crossK {
		g.crossK[i], g.crossV[i] = gather(g.crossK[i], S*inner), gather(g.crossV[i], S*inner)
	}
	ps.batch.B = B * k
	return B * k
}

// step runs the decoder on token ids at position t and downloads the
// logits [B, vocab].
func (g *generator) step(t int, ids []int32, logits []float32) error {
	ps, m, be, cfg := g.ps, g.ps.m, g.ps.m.Backend, g.ps.m.Config
	B, S, L, D, H, dk, inner, F := ps.batch.B, ps.batch.S, g.L, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner(), cfg.DFF
	eps := float32(cfg.LayerNormEpsilon)
	e := &errs{}
	norm := func(ln *Param) {
		e.do(be.RMSNorm(kernels.RMSNormParams{Rows: B, Cols: D, Eps: eps, X: g.h, W: ln.W, Y: g.xn, RStd: g.rstd}))
		addBias(e, be, ln, g.xn, B)
	}
	residual := func(o *Param, site Site) {
		e.do(linear(be, g.out, g.ctx, o.W, B, inner, D))
		addBias(e, be, o, g.out, B)
		ps.hookForward(e, site, g.out, B)
		e.do(be.Binary(kernels.Add, g.h, g.h, g.out))
	}
	e.do(be.UploadInt32(g.ids, ids))
	e.do(be.Embedding(g.h, m.shared.W, g.ids, D))
	n := t + 1
	for i := range m.dec {
		blk := &m.dec[i]
		// Self-attention: append k, v of the new token to the cache
		// ([L, B, H, d_kv]) and attend to positions 0..t.
		w := &blk.self
		norm(w.ln)
		e.do(linear(be, g.q, g.xn, w.q.W, B, D, inner))
		addBias(e, be, w.q, g.q, B)
		e.do(linear(be, g.selfK[i].Slice(t*B*inner, B*inner), g.xn, w.k.W, B, D, inner))
		addBias(e, be, w.k, g.selfK[i].Slice(t*B*inner, B*inner), B)
		e.do(linear(be, g.selfV[i].Slice(t*B*inner, B*inner), g.xn, w.v.W, B, D, inner))
		addBias(e, be, w.v, g.selfV[i].Slice(t*B*inner, B*inner), B)
		sc := g.scores.Slice(0, B*H*n)
		e.do(be.Gemm(kernels.GemmParams{TransB: true, M: 1, N: n, K: dk, Alpha: 1, A: g.q, B: g.selfK[i], C: sc,
			LDB: B * inner, Batch: B * H, StrideA: dk, StrideB: dk, StrideC: n}))
		bias := kernels.AdditiveMask{M: g.bias.Slice(t*L, H*L*L-t*L), StrideHead: L * L, StrideRow: L}
		e.do(be.Softmax(kernels.SoftmaxParams{X: sc, Y: sc, Batch: B, Heads: H, Rows: 1, Cols: n, Masks: []kernels.AdditiveMask{bias}}))
		e.do(be.Gemm(kernels.GemmParams{M: 1, N: dk, K: n, Alpha: 1, A: sc, B: g.selfV[i], C: g.ctx,
			LDB: B * inner, Batch: B * H, StrideA: n, StrideB: dk, StrideC: dk}))
		residual(w.o, w.site)
		// Cross-attention on the cached encoder keys and values.
		w = blk.cross
		norm(w.ln)
		e.do(linear(be, g.q, g.xn, w.q.W, B, D, inner))
		addBias(e, be, w.q, g.q, B)
		sc = g.scores.Slice(0, B*H*S)
		e.do(be.Gemm(kernels.GemmParams{TransB: true, M: 1, N: S, K: dk, Alpha: 1, A: g.q, B: g.crossK[i], C: sc,
			Batch: B * H, StrideA: dk, StrideB: S * dk, StrideC: S}))
		e.do(be.Softmax(kernels.SoftmaxParams{X: sc, Y: sc, Batch: B, Heads: H, Rows: 1, Cols: S, Masks: []kernels.AdditiveMask{padMask(g.crossMask, S)}}))
		e.do(be.Gemm(kernels.GemmParams{M: 1, N: dk, K: S, Alpha: 1, A: sc, B: g.crossV[i], C: g.ctx,
			Batch: B * H, StrideA: S, StrideB: S * dk, StrideC: dk}))
		residual(w.o, w.site)
		// Feed-forward.
		f := &blk.ffn
		norm(f.ln)
		e.do(linear(be, g.a, g.xn, f.wi.W, B, D, F))
		addBias(e, be, f.wi, g.a, B)
		if m.gated {
			e.do(linear(be, g.a1, g.xn, f.wi1.W, B, D, F))
			addBias(e, be, f.wi1, g.a1, B)
			e.do(be.Act(m.act, g.g, g.a))
			e.do(be.Binary(kernels.Mul, g.r, g.g, g.a1))
		} else {
			e.do(be.Act(m.act, g.r, g.a))
		}
		e.do(linear(be, g.out, g.r, f.wo.W, B, F, D))
		addBias(e, be, f.wo, g.out, B)
		ps.hookForward(e, f.site, g.out, B)
		e.do(be.Binary(kernels.Add, g.h, g.h, g.out))
	}
	norm(m.decFinal)
	head := m.shared
	if m.lmHead != nil {
		head = m.lmHead
	} else {
		e.do(be.Scale(g.xn, float32(math.Pow(float64(D), -0.5))))
	}
	if m.tiedHead != nil {
		head = m.tiedHead
	}
	e.do(linear(be, g.logits, g.xn, head.W, B, D, cfg.VocabSize))
	if m.lmBias != nil {
		e.do(be.AddBias(g.logits, m.lmBias.W, B, cfg.VocabSize))
	}
	if e.err != nil {
		return e.err
	}
	return be.Download(logits, g.logits)
}
