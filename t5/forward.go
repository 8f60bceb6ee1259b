package t5

import (
	"errors"
	"fmt"
	"math"

	"github.com/compacter-go/compacter/kernels"
)

// IgnoreIndex is the label that the loss skips, as in PyTorch.
const IgnoreIndex = -100

// Mask constants of the reference code: self-attention masks add −10000,
// the cross-attention (inverted encoder) mask adds −1e9.
const (
	selfMaskValue  = -10000
	crossMaskValue = -1e9
)

// Batch is a batch of B encoder sequences of length S and decoder
// sequences of length T, row-major [B, S] and [B, T].
type Batch struct {
	B, S, T int
	// InputIDs are the encoder tokens, [B, S].
	InputIDs []int32
	// AttentionMask is 1 for real and 0 for padded encoder positions
	// ([B, S]); nil means all ones.
	AttentionMask []int32
	// DecoderInputIDs are the decoder tokens, [B, T]; nil means Labels
	// shifted right (ShiftRight).
	DecoderInputIDs []int32
	// Labels are the targets, [B, T], IgnoreIndex where not counted; nil
	// computes no loss.
	Labels []int32
	// DropoutSeed, when not 0, reseeds dropout (as SetTraining does, the
	// mode unchanged) before a Trainer's pass over this batch, so that its
	// masks do not depend on the batches before it in the step: a
	// micro-batch gets the same masks in one process and on any rank of a
	// data-parallel run.
	DropoutSeed uint64
}

// ShiftRight returns labels shifted one position right per row, with start
// in front and IgnoreIndex replaced by pad, as T5's _shift_right.
func ShiftRight(labels []int32, rows, cols int, start, pad int32) []int32 {
	out := make([]int32, len(labels))
	for r := 0; r < rows; r++ {
		out[r*cols] = start
		for c := 1; c < cols; c++ {
			v := labels[r*cols+c-1]
			if v == IgnoreIndex {
				v = pad
			}
			out[r*cols+c] = v
		}
	}
	return out
}

func (m *Model) checkBatch(b *Batch) error {
	if b.B <= 0 || b.S <= 0 || b.T <= 0 {
		return fmt.Errorf("t5: batch sizes B=%d S=%d T=%d must be positive", b.B, b.S, b.T)
	}
	check := func(name string, v []int32, n int, lo, hi int32, opt bool) error {
		if v == nil && opt {
			return nil
		}
		if len(v) != n {
			return fmt.Errorf("t5: batch %s has %d elements, want %d", name, len(v), n)
		}
		for i, x := range v {
			if (x < lo || x >= hi) && !(name == "labels" && x == IgnoreIndex) {
				return fmt.Errorf("t5: batch %s[%d] = %d outside [%d, %d)", name, i, x, lo, hi)
			}
		}
		return nil
	}
	v := int32(m.Config.VocabSize)
	if err := check("input_ids", b.InputIDs, b.B*b.S, 0, v, false); err != nil {
		return err
	}
	if err := check("attention_mask", b.AttentionMask, b.B*b.S, 0, 2, true); err != nil {
		return err
	}
	if err := check("labels", b.Labels, b.B*b.T, 0, v, true); err != nil {
		return err
	}
	if b.DecoderInputIDs == nil && b.Labels == nil {
		return errors.New("t5: batch has neither decoder_input_ids nor labels")
	}
	return check("decoder_input_ids", b.DecoderInputIDs, b.B*b.T, 0, v, true)
}

// relativePositionBucket is transformers' _relative_position_bucket for
// relative position (key − query), computed in float32 as PyTorch does.
func relativePositionBucket(rel int, bidirectional bool, numBuckets, maxDistance int) int {
	bucket := 0
	if bidirectional {
		numBuckets /= 2
		if rel > 0 {
			bucket += numBuckets
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	maxExact := numBuckets / 2
	if rel < maxExact {
		return bucket + rel
	}
	l := float32(math.Log(float64(float32(rel) / float32(maxExact))))
	l /= float32(math.Log(float64(maxDistance) / float64(maxExact)))
	l *= float32(numBuckets - maxExact)
	large := min(maxExact+int(l), numBuckets-1)
	return bucket + large
}

// buckets returns the bucket ids [q, k] for q queries and k keys.
func (m *Model) buckets(q, k int, bidirectional bool) []int32 {
	out := make([]int32, q*k)
	for i := 0; i < q; i++ {
		for j := 0; j < k; j++ {
			out[i*k+j] = int32(relativePositionBucket(j-i, bidirectional, m.Config.RelativeAttentionNumBuckets, m.Config.RelativeAttentionMaxDistance))
		}
	}
	return out
}

// attnAct holds what the backward of one attention sub-layer needs.
type attnAct struct {
	w       *attnParams
	hIn     kernels.Buffer // residual stream entering the sub-layer
	kvIn    kernels.Buffer // encoder output for cross-attention, nil for self
	rstd    kernels.Buffer // of the norm; its output is recomputed (normOut)
	q, k, v kernels.Buffer // heads layout [B, H, len, d_kv]; [B·len, inner] when inPlace
	inPlace bool           // heads read in place (kernels.HeadsInPlace), no permuted copies
	reassoc bool           // cross-attention reassociated (crossattn.go): no k, v; p [B, tq, H, tk]
	p       kernels.Buffer // probabilities [B, H, tq, tk]; nil when inPlace (recomputed per head); [B, tq, H, tk] when reassoc
	pd      kernels.Buffer // probabilities after dropout (nil without dropout or when inPlace)
	masks   []kernels.AdditiveMask
	causal  bool
	offP    uint64         // dropout offsets of the probabilities
	offOut  uint64         // and of the sub-layer output
	ctx     kernels.Buffer // merged context [B·tq, inner]
	hook    HookState      // state of the sub-layer hook, nil without
	tq, tk  int
	relBias bool // scores carry the stack's position bias
}

// ffnAct holds what the backward of one feed-forward sub-layer needs.
type ffnAct struct {
	w      *ffnParams
	hIn    kernels.Buffer
	rstd   kernels.Buffer // of the norm; its output is recomputed (normOut)
	a, a1  kernels.Buffer // pre-activations (a1: linear branch when gated)
	r      kernels.Buffer // act(a), or act(a)·a1 when gated, after dropout
	mask   kernels.Buffer // [r > 0] as bits, instead of a and r (see ffn)
	g      kernels.Buffer // act(a) when gated
	rows   int
	hook   HookState // state of the sub-layer hook, nil without
	offH   uint64    // dropout offsets of the hidden layer
	offOut uint64    // and of the sub-layer output
}

// Pass is the result of a forward pass and the activations its backward
// needs. Release frees it.
type Pass struct {
	m     *Model
	batch Batch
	bufs  []kernels.Buffer

	// Logits are the LM logits [B·T, vocab].
	Logits kernels.Buffer
	// EncoderOut is the encoder's last hidden state [B·S, d_model].
	EncoderOut kernels.Buffer
	// Loss is the mean cross-entropy over labels ≠ IgnoreIndex (0 without
	// labels, NaN when every label is ignored, as PyTorch); Count is the
	// number of counted labels.
	Loss  float64
	Count int

	inputIDs, decIDs kernels.Buffer
	encBias, decBias kernels.Buffer // [H, len, len] position biases
	encBuckets       kernels.Buffer
	decBuckets       kernels.Buffer
	encAttn, decAttn []*attnAct
	crossAttn        []*attnAct
	encFFN, decFFN   []*ffnAct
	// encBlocks[i] (decBlocks[i]) is the range of bufs the forward of
	// encoder (decoder) block i allocated: what only that block's backward
	// reads (see dropBlock).
	encBlocks, decBlocks [][2]int
	encLast, decLast     kernels.Buffer // residual streams entering the final norms
	encRStd, decRStd     kernels.Buffer
	decY                 kernels.Buffer // final decoder states (rescaled when tied)
	dLogits              kernels.Buffer

	hooks []HookState // states of the sub-layer hook, released by Release
	// blockDone, when set, is called by Backward after each block's
	// backward, when the gradients of the block's own tensors are
	// complete (the fused optimizer step of Trainer.Step).
	blockDone func(*blockParams) error
	// embedChunk, when set, takes the tied shared embedding's gradient
	// vocabulary rows [v0, v1) at a time, complete, in g (the fused step
	// updates those rows and lets g go), instead of Backward summing the
	// whole gradient into the embedding's G: see embeddingChunks.
	embedChunk               func(v0, v1 int, g kernels.Buffer) error
	tmp                      kernels.Buffer // forward scratch shared by the layers
	tmp2                     kernels.Buffer // a second one: inputs only frozen products read
	infer                    bool           // no backward: free activations layer by layer
	act                      []kernels.Buffer
	rs                       [2]kernels.Buffer // residual streams, alternating (infer)
	rsNext                   int
	drop                     float32 // dropout rate of this pass (0: off)
	encEmbOff, decEmbOff     uint64  // dropout offsets of the embeddings
	encFinalOff, decFinalOff uint64  // and of the final layer-norm outputs
}

// dropout applies the pass's dropout in place to buf and returns the
// counter offset it used (nothing happens when dropout is off).
func (ps *Pass) dropout(e *errs, buf kernels.Buffer) uint64 {
	if ps.drop == 0 || e.err != nil {
		return 0
	}
	m := ps.m
	off := m.dropOffset
	m.dropOffset += uint64(buf.Len())
	e.do(m.Backend.Dropout(buf, buf, ps.drop, m.dropSeed, off))
	return off
}

// reserveDropout returns the counter offset of n elements of dropout
// applied piecewise later (ps.headDrop), as dropout would have used for one
// buffer of n elements (0 when dropout is off).
func (ps *Pass) reserveDropout(n int) uint64 {
	if ps.drop == 0 {
		return 0
	}
	off := ps.m.dropOffset
	ps.m.dropOffset += uint64(n)
	return off
}

// undrop is the backward of dropout in place: it applies the mask of
// offset off to the gradient buf (nothing happens when dropout is off).
func (ps *Pass) undrop(e *errs, buf kernels.Buffer, off uint64) {
	if ps.drop != 0 {
		e.do(ps.m.Backend.Dropout(buf, buf, ps.drop, ps.m.dropSeed, off))
	}
}

// Release frees the buffers of the pass.
func (ps *Pass) Release() error {
	var errs []error
	for _, b := range append(ps.bufs, ps.act...) {
		errs = append(errs, ps.m.Backend.Free(b))
	}
	for _, h := range ps.hooks {
		errs = append(errs, h.Release())
	}
	ps.bufs, ps.act, ps.hooks = nil, nil, nil
	return errors.Join(errs...)
}

// Batch returns the batch the pass was computed on.
func (ps *Pass) Batch() Batch { return ps.batch }

// errs keeps the first error of a sequence of backend calls.
type errs struct{ err error }

func (e *errs) do(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

func (ps *Pass) alloc(e *errs, n int) kernels.Buffer {
	return ps.newBuf(e, kernels.Float32, n, true, &ps.bufs)
}

// out allocates, like alloc, a buffer the next op writes whole before
// anything reads it (a product, norm, permutation or embedding output):
// its memory is not zeroed (kernels.AllocUninit).
func (ps *Pass) out(e *errs, n int) kernels.Buffer {
	return ps.newBuf(e, kernels.Float32, n, false, &ps.bufs)
}

// newBuf allocates n elements of dt, zeroed or not, and records the buffer
// in *list (ps.bufs: freed by Release; ps.act: by endLayer).
func (ps *Pass) newBuf(e *errs, dt kernels.DType, n int, zero bool, list *[]kernels.Buffer) kernels.Buffer {
	if e.err != nil {
		return nil
	}
	var b kernels.Buffer
	var err error
	if zero {
		b, err = ps.m.Backend.Alloc(dt, n)
	} else {
		b, err = kernels.AllocUninit(ps.m.Backend, dt, n)
	}
	if err != nil {
		e.do(fmt.Errorf("t5: %w", err))
		return nil
	}
	*list = append(*list, b)
	return b
}

// scratchOf returns n elements of the shared scratch *buf, replacing it
// with a larger uninitialised one when it is too small.
func (ps *Pass) scratchOf(e *errs, buf *kernels.Buffer, n int) kernels.Buffer {
	if *buf == nil || (*buf).Len() < n {
		if *buf = ps.out(e, n); *buf == nil {
			return nil
		}
	}
	return (*buf).Slice(0, n)
}

// temp returns n elements of scratch that the forward shares between
// layers (it holds nothing the backward reads).
func (ps *Pass) temp(e *errs, n int) kernels.Buffer { return ps.scratchOf(e, &ps.tmp, n) }

// keepOrTemp returns n elements for the input of linear layers: an
// activation the backward keeps when one of ws is trainable (its weight
// gradient reads it), else the second shared scratch, since the gradient
// with respect to the input of a frozen product needs only its weight. Such
// an input is not kept: nil is returned as the activation to record.
func (ps *Pass) keepOrTemp(e *errs, n int, ws ...*Param) (buf, kept kernels.Buffer) {
	if ps.infer || trainable(ws...) {
		b := ps.actOut(e, n)
		return b, b
	}
	return ps.scratchOf(e, &ps.tmp2, n), nil
}

// normOut returns n elements for a sub-layer's normed input, the input of
// its products. In training it is the second shared scratch and is not
// kept: where a weight gradient reads it, the backward recomputes it from
// the kept residual input and rstd (Pass.renorm), one RMSNorm of [rows,
// d_model] against keeping [rows, d_model] floats per sub-layer (85 MiB of
// full fine-tuning's t5-base step at 128/16). In inference it is an
// activation freed with the sub-layer, as keepOrTemp's.
func (ps *Pass) normOut(e *errs, n int) kernels.Buffer {
	if ps.infer {
		return ps.actOut(e, n)
	}
	return ps.scratchOf(e, &ps.tmp2, n)
}

// trainable reports whether one of ws has a gradient.
func trainable(ws ...*Param) bool {
	for _, w := range ws {
		if w != nil && w.G != nil {
			return true
		}
	}
	return false
}

// allocAct allocates an activation of a sub-layer: kept for the backward,
// or, in inference, freed by endLayer once the sub-layer is done.
func (ps *Pass) allocAct(e *errs, n int) kernels.Buffer {
	return ps.newBuf(e, kernels.Float32, n, true, ps.actList())
}

// actOut is allocAct for an activation the next op writes whole (see out).
func (ps *Pass) actOut(e *errs, n int) kernels.Buffer {
	return ps.newBuf(e, kernels.Float32, n, false, ps.actList())
}

// actList is where a sub-layer's activations are recorded.
func (ps *Pass) actList() *[]kernels.Buffer {
	if ps.infer {
		return &ps.act
	}
	return &ps.bufs
}

// endLayer frees the activations of an inference sub-layer.
func (ps *Pass) endLayer(e *errs) {
	for _, b := range ps.act {
		e.do(ps.m.Backend.Free(b))
	}
	ps.act = ps.act[:0]
}

// residual returns the buffer for the next residual stream of rows rows:
// a new one when the backward needs them all, else the one of a pair that
// does not hold the current stream (the streams strictly alternate).
func (ps *Pass) residual(e *errs, rows int) kernels.Buffer {
	D := ps.m.Config.DModel
	if !ps.infer {
		return ps.out(e, rows*D)
	}
	if ps.rs[0] == nil {
		n := ps.batch.B * max(ps.batch.S, ps.batch.T) * D
		ps.rs[0], ps.rs[1] = ps.out(e, n), ps.out(e, n)
		if e.err != nil {
			return nil
		}
	}
	b := ps.rs[ps.rsNext]
	ps.rsNext ^= 1
	return b.Slice(0, rows*D)
}

func (ps *Pass) allocInt(e *errs, v []int32) kernels.Buffer {
	if e.err != nil {
		return nil
	}
	b, err := ps.m.Backend.Alloc(kernels.Int32, len(v))
	if err != nil {
		e.do(fmt.Errorf("t5: %w", err))
		return nil
	}
	ps.bufs = append(ps.bufs, b)
	e.do(ps.m.Backend.UploadInt32(b, v))
	return b
}

// linear computes y = x·wᵀ for x [rows, in] and w [out, in].
func linear(b kernels.Backend, y, x, w kernels.Buffer, rows, in, out int) error {
	return b.Gemm(kernels.GemmParams{TransB: true, M: rows, N: out, K: in, Alpha: 1, A: x, B: w, C: y})
}

// Forward runs the model on a batch. With wantGrad (and labels) it also
// keeps the gradient of the loss with respect to the logits for Backward.
// Dropout is applied where transformers applies it (embeddings, attention
// probabilities, sub-layer outputs, feed-forward hidden layer, final
// layer-norm outputs) when the model is in training mode (SetTraining).
func (m *Model) Forward(batch Batch, wantGrad bool) (*Pass, error) {
	return m.forward(batch, wantGrad, true)
}

// forward is Forward; without keepLogits (training) the gradient of the
// logits overwrites the logits, saving one [B·T, vocab] buffer, and
// Pass.Logits is nil.
func (m *Model) forward(batch Batch, wantGrad, keepLogits bool) (*Pass, error) {
	if err := m.checkBatch(&batch); err != nil {
		return nil, err
	}
	if wantGrad && batch.Labels == nil {
		return nil, errors.New("t5: gradients need labels")
	}
	if batch.DecoderInputIDs == nil {
		batch.DecoderInputIDs = ShiftRight(batch.Labels, batch.B, batch.T, int32(m.Config.DecoderStartTokenID), int32(m.Config.PadTokenID))
	}
	ps := &Pass{m: m, batch: m.withPrompt(batch), infer: !wantGrad}
	if m.training {
		ps.drop = float32(m.Config.DropoutRate)
	}
	if err := ps.forward(wantGrad, keepLogits); err != nil {
		ps.Release()
		return nil, err
	}
	return ps, nil
}

func (ps *Pass) forward(wantGrad, keepLogits bool) error {
	m, be, cfg := ps.m, ps.m.Backend, ps.m.Config
	B, S, T := ps.batch.B, ps.batch.S, ps.batch.T
	D := cfg.DModel
	e := &errs{}

	crossMaskB := ps.encode(e)
	ps.decBuckets = ps.allocInt(e, m.buckets(T, T, false))
	ps.decBias = ps.posBias(e, m.decRel, ps.decBuckets, T)
	ps.decIDs = ps.allocInt(e, ps.batch.DecoderInputIDs)
	if e.err != nil {
		return e.err
	}

	// Decoder.
	h := ps.residual(e, B*T)
	e.do(be.Embedding(h, m.shared.W, ps.decIDs, D))
	ps.decEmbOff = ps.dropout(e, h)
	for i := range m.dec {
		blk := &m.dec[i]
		first := len(ps.bufs)
		a, h2 := ps.attention(e, &blk.self, h, nil, T, T, []kernels.AdditiveMask{biasMask(ps.decBias, T, T)}, true, true)
		ps.decAttn = append(ps.decAttn, a)
		c, h3 := ps.attention(e, blk.cross, h2, ps.EncoderOut, T, S, []kernels.AdditiveMask{padMask(crossMaskB, S)}, false, false)
		ps.crossAttn = append(ps.crossAttn, c)
		f, h4 := ps.ffn(e, &blk.ffn, h3, B*T)
		ps.decFFN = append(ps.decFFN, f)
		h = h4
		ps.decBlocks = append(ps.decBlocks, [2]int{first, len(ps.bufs)})
	}
	ps.decLast = h
	ps.decY = ps.out(e, B*T*D)
	ps.decRStd = ps.out(e, B*T)
	e.do(be.RMSNorm(kernels.RMSNormParams{Rows: B * T, Cols: D, Eps: float32(cfg.LayerNormEpsilon), X: h, W: m.decFinal.W, Y: ps.decY, RStd: ps.decRStd}))
	ps.decFinalOff = ps.dropout(e, ps.decY)
	head := m.shared
	if m.lmHead != nil {
		head = m.lmHead
	} else {
		e.do(be.Scale(ps.decY, float32(math.Pow(float64(D), -0.5))))
	}
	if m.tiedHead != nil {
		head = m.tiedHead
	}
	V := cfg.VocabSize
	ps.Logits = ps.out(e, B*T*V)
	e.do(linear(be, ps.Logits, ps.decY, head.W, B*T, D, V))
	if m.lmBias != nil {
		e.do(be.AddBias(ps.Logits, m.lmBias.W, B*T, V))
	}
	if e.err != nil {
		return e.err
	}

	// Loss.
	if ps.batch.Labels == nil {
		return nil
	}
	for _, l := range ps.batch.Labels {
		if l != IgnoreIndex {
			ps.Count++
		}
	}
	labels := ps.allocInt(e, ps.batch.Labels)
	loss := ps.alloc(e, B*T)
	cp := kernels.CrossEntropyParams{Logits: ps.Logits, Labels: labels, Loss: loss, Rows: B * T, Vocab: V, IgnoreIndex: IgnoreIndex}
	if wantGrad {
		if keepLogits {
			ps.dLogits = ps.alloc(e, B*T*V)
		} else {
			ps.dLogits, ps.Logits = ps.Logits, nil
		}
		cp.DLogits = ps.dLogits
		if ps.Count > 0 {
			cp.GradScale = 1 / float32(ps.Count)
		}
	}
	e.do(be.CrossEntropy(cp))
	rows := make([]float32, B*T)
	if e.err == nil {
		e.do(be.Download(rows, loss))
	}
	if e.err != nil {
		return e.err
	}
	if ps.Count > 0 {
		var sum float64
		for _, r := range rows {
			sum += float64(r)
		}
		ps.Loss = sum / float64(ps.Count)
	} else {
		ps.Loss = math.NaN() // as PyTorch's mean over no elements
	}
	return nil
}

// encode runs the encoder into ps.EncoderOut and returns the
// cross-attention mask [B, S] of the decoder.
func (ps *Pass) encode(e *errs) (crossMaskB kernels.Buffer) {
	m, be, cfg := ps.m, ps.m.Backend, ps.m.Config
	B, S, D := ps.batch.B, ps.batch.S, cfg.DModel
	encMask := make([]float32, B*S)
	crossMask := make([]float32, B*S)
	for i := range encMask {
		if ps.batch.AttentionMask != nil && ps.batch.AttentionMask[i] == 0 {
			encMask[i], crossMask[i] = selfMaskValue, crossMaskValue
		}
	}
	encMaskB, crossMaskB := ps.alloc(e, B*S), ps.alloc(e, B*S)
	if e.err == nil {
		e.do(be.Upload(encMaskB, encMask))
		e.do(be.Upload(crossMaskB, crossMask))
	}
	ps.encBuckets = ps.allocInt(e, m.buckets(S, S, true))
	ps.encBias = ps.posBias(e, m.encRel, ps.encBuckets, S)
	ps.inputIDs = ps.allocInt(e, ps.batch.InputIDs)
	if e.err != nil {
		return nil
	}
	h := ps.residual(e, B*S)
	if e.err != nil {
		return nil
	}
	e.do(be.Embedding(h, m.shared.W, ps.inputIDs, D))
	ps.promptForward(e, h)
	ps.encEmbOff = ps.dropout(e, h)
	for i := range m.enc {
		blk := &m.enc[i]
		first := len(ps.bufs)
		a, h2 := ps.attention(e, &blk.self, h, nil, S, S, []kernels.AdditiveMask{biasMask(ps.encBias, S, S), padMask(encMaskB, S)}, false, true)
		ps.encAttn = append(ps.encAttn, a)
		f, h3 := ps.ffn(e, &blk.ffn, h2, B*S)
		ps.encFFN = append(ps.encFFN, f)
		h = h3
		ps.encBlocks = append(ps.encBlocks, [2]int{first, len(ps.bufs)})
	}
	ps.encLast = h
	ps.EncoderOut = ps.out(e, B*S*D)
	ps.encRStd = ps.out(e, B*S)
	e.do(be.RMSNorm(kernels.RMSNormParams{Rows: B * S, Cols: D, Eps: float32(cfg.LayerNormEpsilon), X: h, W: m.encFinal.W, Y: ps.EncoderOut, RStd: ps.encRStd}))
	ps.encFinalOff = ps.dropout(e, ps.EncoderOut)
	return crossMaskB
}

// padMask broadcasts an additive padding mask [B, S] over heads and rows.
func padMask(mb kernels.Buffer, S int) kernels.AdditiveMask {
	return kernels.AdditiveMask{M: mb, StrideBatch: S}
}

// biasMask broadcasts a position bias [H, tq, tk] over the batch.
func biasMask(bb kernels.Buffer, tq, tk int) kernels.AdditiveMask {
	return kernels.AdditiveMask{M: bb, StrideHead: tq * tk, StrideRow: tk}
}

// posBias gathers the relative position bias [H, n, n] of a stack.
func (ps *Pass) posBias(e *errs, rel *Param, ids kernels.Buffer, n int) kernels.Buffer {
	H := ps.m.Config.NumHeads
	tmp := ps.alloc(e, n*n*H)
	out := ps.alloc(e, n*n*H)
	if e.err != nil {
		return nil
	}
	e.do(ps.m.Backend.Embedding(tmp, rel.W, ids, H))
	e.do(ps.m.Backend.Permute(out, tmp, [4]int{1, n, n, H}, [4]int{0, 3, 1, 2}))
	return out
}

// attention runs one pre-norm attention sub-layer and returns the new
// residual stream hIn + o(attn(norm(hIn))). kvIn is the encoder output for
// cross-attention (nil for self-attention); relBias says that masks carry
// the stack's position bias (whose gradient the backward accumulates). In
// inference the activations are freed and the returned *attnAct is nil.
func (ps *Pass) attention(e *errs, w *attnParams, hIn, kvIn kernels.Buffer, tq, tk int, masks []kernels.AdditiveMask, causal, relBias bool) (*attnAct, kernels.Buffer) {
	be, cfg := ps.m.Backend, ps.m.Config
	B, D, H, dk, inner := ps.batch.B, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.Inner()
	a := &attnAct{w: w, hIn: hIn, kvIn: kvIn, tq: tq, tk: tk, relBias: relBias}
	nq, nk := B*tq, B*tk
	xn := ps.normOut(e, nq*D)
	var ctx kernels.Buffer
	a.rstd = ps.actOut(e, nq)
	a.inPlace = kernels.HeadsInPlace(be)
	a.masks, a.causal = masks, causal
	a.reassoc = kvIn != nil && a.inPlace && ps.reassociates(w, tq, tk, masks)
	a.q = ps.actOut(e, nq*inner)
	if !a.reassoc {
		a.k, a.v = ps.actOut(e, nk*inner), ps.actOut(e, nk*inner)
	}
	var tmp kernels.Buffer
	if !a.inPlace && !a.reassoc {
		a.p = ps.actOut(e, B*H*tq*tk)
		tmp = ps.temp(e, max(nq, nk)*inner)
	}
	hOut := ps.residual(e, nq)
	if e.err != nil {
		return a, nil
	}
	e.do(be.RMSNorm(kernels.RMSNormParams{Rows: nq, Cols: D, Eps: float32(cfg.LayerNormEpsilon), X: hIn, W: w.ln.W, Y: xn, RStd: a.rstd}))
	addBias(e, be, w.ln, xn, nq)
	src := xn
	if kvIn != nil {
		src = kvIn
	}
	if a.reassoc {
		ctx = ps.crossForward(e, a, xn)
	} else if a.inPlace {
		// The projections stay in their [rows, inner] layout; the
		// products read head h as the columns h·d_kv… of each row.
		e.do(linear(be, a.q, xn, w.q.W, nq, D, inner))
		addBias(e, be, w.q, a.q, nq)
		e.do(linear(be, a.k, src, w.k.W, nk, D, inner))
		addBias(e, be, w.k, a.k, nk)
		e.do(linear(be, a.v, src, w.v.W, nk, D, inner))
		addBias(e, be, w.v, a.v, nk)
		// xn is dead: the context may take its scratch.
		ctx, a.ctx = ps.keepOrTemp(e, nq*inner, w.o)
		// One head at a time: its probabilities [B, tq, tk] stay in
		// cache from the scores to the context, and are not kept (the
		// backward recomputes them from q and k).
		a.offP = ps.reserveDropout(B * H * tq * tk)
		ph := ps.temp(e, B*tq*tk)
		for h := 0; h < H && e.err == nil; h++ {
			ps.headProbs(e, a, h, ph, nil)
			ps.headGemm(e, h, false, false, tq, dk, tk, ps.oneHead(ph, tq, tk), ps.rowHeads(a.v, tk), ps.rowHeads(ctx, tq))
		}
	} else {
		tq4 := [4]int{B, tq, H, dk}
		tk4 := [4]int{B, tk, H, dk}
		split := [4]int{0, 2, 1, 3}
		tq1 := tmp.Slice(0, nq*inner)
		tk1 := tmp.Slice(0, nk*inner)
		e.do(linear(be, tq1, xn, w.q.W, nq, D, inner))
		addBias(e, be, w.q, tq1, nq)
		e.do(be.Permute(a.q, tq1, tq4, split))
		e.do(linear(be, tk1, src, w.k.W, nk, D, inner))
		addBias(e, be, w.k, tk1, nk)
		e.do(be.Permute(a.k, tk1, tk4, split))
		e.do(linear(be, tk1, src, w.v.W, nk, D, inner))
		addBias(e, be, w.v, tk1, nk)
		e.do(be.Permute(a.v, tk1, tk4, split))
		// scores = q·kᵀ (no 1/√d scaling), softmax with masks.
		e.do(be.Gemm(kernels.GemmParams{TransB: true, M: tq, N: tk, K: dk, Alpha: 1, A: a.q, B: a.k, C: a.p,
			Batch: B * H, StrideA: tq * dk, StrideB: tk * dk, StrideC: tq * tk}))
		e.do(be.Softmax(kernels.SoftmaxParams{X: a.p, Y: a.p, Batch: B, Heads: H, Rows: tq, Cols: tk, Masks: masks, Causal: causal}))
		probs := a.p
		if ps.drop != 0 {
			a.pd = ps.actOut(e, B*H*tq*tk)
			if e.err == nil {
				e.do(be.Copy(a.pd, a.p))
			}
			a.offP = ps.dropout(e, a.pd)
			probs = a.pd
		}
		e.do(be.Gemm(kernels.GemmParams{M: tq, N: dk, K: tk, Alpha: 1, A: probs, B: a.v, C: tq1,
			Batch: B * H, StrideA: tq * tk, StrideB: tk * dk, StrideC: tq * dk}))
		// xn is dead: the context may take its scratch.
		ctx, a.ctx = ps.keepOrTemp(e, nq*inner, w.o)
		if e.err != nil {
			return a, nil
		}
		e.do(be.Permute(ctx, tq1, [4]int{B, H, tq, dk}, [4]int{0, 2, 1, 3}))
	}
	e.do(linear(be, hOut, ctx, w.o.W, nq, inner, D))
	addBias(e, be, w.o, hOut, nq)
	a.hook = ps.hookForward(e, w.site, hOut, nq)
	a.offOut = ps.dropout(e, hOut)
	e.do(be.Binary(kernels.Add, hOut, hOut, hIn))
	if ps.infer {
		ps.endLayer(e)
		a = nil
	}
	return a, hOut
}

// headOperand is one operand of a per-head attention product: head h of
// batch row b starts at h·head + b·stride of buf, with leading dimension ld.
type headOperand struct {
	buf              kernels.Buffer
	head, ld, stride int
}

// rowHeads views buf, [B·n, inner] (n rows a sequence), as per-head
// operands: head h is columns h·d_kv… of each row.
func (ps *Pass) rowHeads(buf kernels.Buffer, n int) headOperand {
	cfg := ps.m.Config
	return headOperand{buf: buf, head: cfg.DKV, ld: cfg.Inner(), stride: n * cfg.Inner()}
}

// headGemm runs C = op(A)·op(B) for head h and every batch row: one
// batched product (over the batch), each operand read or written in place.
func (ps *Pass) headGemm(e *errs, h int, transA, transB bool, m, n, k int, a, b, c headOperand) {
	if e.err != nil {
		return
	}
	view := func(o headOperand) kernels.Buffer {
		off := h * o.head
		return o.buf.Slice(off, o.buf.Len()-off)
	}
	e.do(ps.m.Backend.Gemm(kernels.GemmParams{TransA: transA, TransB: transB, M: m, N: n, K: k, Alpha: 1,
		A: view(a), B: view(b), C: view(c), LDA: a.ld, LDB: b.ld, LDC: c.ld,
		Batch: ps.batch.B, StrideA: a.stride, StrideB: b.stride, StrideC: c.stride}))
}

// oneHead views buf, [B, r, c], as the per-head operand of every head:
// the probabilities of the head at hand.
func (ps *Pass) oneHead(buf kernels.Buffer, r, c int) headOperand {
	return headOperand{buf: buf, head: 0, ld: c, stride: r * c}
}

// headProbs computes the attention probabilities of head h into p, [B, tq,
// tk]: softmax(q_h·k_hᵀ + masks), then, when the pass drops out, dropout
// with the head's offsets of the reserved range a.offP, in place, or into
// pd when pd is not nil (p keeps the probabilities before dropout). The
// values are those of the [B, H, tq, tk] array of all heads at once.
func (ps *Pass) headProbs(e *errs, a *attnAct, h int, p, pd kernels.Buffer) {
	be := ps.m.Backend
	B, tq, tk := ps.batch.B, a.tq, a.tk
	ps.headGemm(e, h, false, true, tq, tk, ps.m.Config.DKV, ps.rowHeads(a.q, tq), ps.rowHeads(a.k, tk), ps.oneHead(p, tq, tk))
	masks := make([]kernels.AdditiveMask, len(a.masks))
	for i, m := range a.masks {
		off := h * m.StrideHead
		masks[i] = kernels.AdditiveMask{M: m.M.Slice(off, m.M.Len()-off), StrideBatch: m.StrideBatch, StrideRow: m.StrideRow}
	}
	e.do(be.Softmax(kernels.SoftmaxParams{X: p, Y: p, Batch: B, Heads: 1, Rows: tq, Cols: tk, Masks: masks, Causal: a.causal}))
	if ps.drop == 0 || e.err != nil {
		return
	}
	dst := p
	if pd != nil {
		e.do(be.Copy(pd, p))
		dst = pd
	}
	ps.headDrop(e, a, h, dst)
}

// headDrop applies, in place, the dropout mask of head h (offsets from the
// range a.offP of the [B, H, tq, tk] probabilities) to buf, [B, tq, tk]:
// the forward's dropout of the probabilities, and its backward.
func (ps *Pass) headDrop(e *errs, a *attnAct, h int, buf kernels.Buffer) {
	n, H := a.tq*a.tk, ps.m.Config.NumHeads
	for b := 0; b < ps.batch.B && e.err == nil; b++ {
		x := buf.Slice(b*n, n)
		e.do(ps.m.Backend.Dropout(x, x, ps.drop, ps.m.dropSeed, a.offP+uint64((b*H+h)*n)))
	}
}

// ffn runs one pre-norm feed-forward sub-layer and returns hIn + FFN(norm(hIn)).
// In inference the activations are freed and the returned *ffnAct is nil.
func (ps *Pass) ffn(e *errs, w *ffnParams, hIn kernels.Buffer, rows int) (*ffnAct, kernels.Buffer) {
	be, cfg := ps.m.Backend, ps.m.Config
	D, F := cfg.DModel, cfg.DFF
	f := &ffnAct{w: w, hIn: hIn, rows: rows}
	xn := ps.normOut(e, rows*D)
	f.rstd = ps.actOut(e, rows)
	// ReLU runs in place: its derivative is [x > 0] = [relu(x) > 0], so the
	// backward reads it from the output (after dropout too: a dropped unit
	// gets no gradient either way), and the [rows, d_ff] pre-activation,
	// the largest activation of a layer, is not kept twice. With wo frozen
	// the output is read by nothing else, so where the backend keeps bits
	// (kernels.SignMasker) the layer keeps only [r > 0], 1 bit an element,
	// and the hidden activation lives in the shared scratch.
	sm, bits := ps.m.Backend.(kernels.SignMasker)
	bits = bits && !ps.infer && !ps.m.gated && ps.m.act == kernels.ReLU && w.wo.G == nil
	if bits {
		f.a = ps.temp(e, rows*F)
		f.mask = ps.newBuf(e, kernels.Int32, kernels.MaskWords(rows*F), false, &ps.bufs)
	} else {
		f.a = ps.actOut(e, rows*F)
	}
	f.r = f.a
	if ps.m.gated || ps.m.act != kernels.ReLU {
		f.r = ps.actOut(e, rows*F)
	}
	if ps.m.gated {
		f.a1, f.g = ps.actOut(e, rows*F), ps.actOut(e, rows*F)
	}
	hOut := ps.residual(e, rows)
	if e.err != nil {
		return f, nil
	}
	e.do(be.RMSNorm(kernels.RMSNormParams{Rows: rows, Cols: D, Eps: float32(cfg.LayerNormEpsilon), X: hIn, W: w.ln.W, Y: xn, RStd: f.rstd}))
	addBias(e, be, w.ln, xn, rows)
	e.do(linear(be, f.a, xn, w.wi.W, rows, D, F))
	addBias(e, be, w.wi, f.a, rows)
	if ps.m.gated {
		e.do(linear(be, f.a1, xn, w.wi1.W, rows, D, F))
		addBias(e, be, w.wi1, f.a1, rows)
		e.do(be.Act(ps.m.act, f.g, f.a))
		e.do(be.Binary(kernels.Mul, f.r, f.g, f.a1))
	} else {
		e.do(be.Act(ps.m.act, f.r, f.a))
	}
	f.offH = ps.dropout(e, f.r)
	if bits && e.err == nil {
		e.do(sm.PackPositive(f.mask, f.r))
	}
	e.do(linear(be, hOut, f.r, w.wo.W, rows, F, D))
	if bits {
		f.a, f.r = nil, nil // the scratch: the next layer overwrites it
	}
	addBias(e, be, w.wo, hOut, rows)
	f.hook = ps.hookForward(e, w.site, hOut, rows)
	f.offOut = ps.dropout(e, hOut)
	e.do(be.Binary(kernels.Add, hOut, hOut, hIn))
	if ps.infer {
		ps.endLayer(e)
		f = nil
	}
	return f, hOut
}
