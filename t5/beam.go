package t5

import (
	"fmt"
	"math"
	"slices"

	"github.com/compacter-go/compacter/kernels"
)

// BeamOptions configures GenerateBeam like the beam-search arguments of
// Hugging Face's generate (transformers 4.6.0 BeamSearchScorer).
type BeamOptions struct {
	// NumBeams is the number of beams kept per input sequence (num_beams);
	// it must be at least 1. One beam decodes exactly as Generate.
	NumBeams int
	// LengthPenalty is the exponent α of the length normalisation: a
	// finished hypothesis of h tokens (counting the decoder start token,
	// not the eos) with summed log-probability s scores s / h^α
	// (length_penalty). Hugging Face's default is 1.0, which
	// DefaultBeamOptions sets; the zero value ranks by s alone, and α < 0
	// favours short sequences. It must be finite.
	LengthPenalty float64
	// EarlyStopping ends the search for an input as soon as NumBeams
	// hypotheses have finished (early_stopping=True); otherwise it ends
	// when no running beam can still score better than the worst finished
	// hypothesis kept.
	EarlyStopping bool
}

// DefaultBeamOptions returns Hugging Face's defaults for numBeams beams:
// length_penalty 1.0, early_stopping false.
func DefaultBeamOptions(numBeams int) BeamOptions {
	return BeamOptions{NumBeams: numBeams, LengthPenalty: 1}
}

// GenerateBeam decodes with beam search, as Hugging Face's
// generate(num_beams=o.NumBeams, length_penalty=o.LengthPenalty,
// early_stopping=o.EarlyStopping) without sampling or other logits
// processors, and returns the best hypothesis per input sequence.
// inputIDs and attentionMask (nil: all ones) are [B, S] and maxLen bounds
// the generated tokens as in Generate (Hugging Face's max_length is
// maxLen+1: it counts the start token). Each step scores every beam's
// continuations by their summed log-softmax, keeps the 2·NumBeams best per
// input, moves those ending in eos_token_id (among the first NumBeams) to
// the finished hypotheses and continues the NumBeams best others. The
// key/value cache of the B·NumBeams rows is reordered on the device after
// each step by gathering the rows of the surviving beams (Embedding as the
// gather, then Copy back). A result ends with eos when its hypothesis
// finished with eos; one that ran to maxLen has maxLen tokens.
func (m *Model) GenerateBeam(inputIDs, attentionMask []int32, B, S, maxLen int, o BeamOptions) ([][]int32, error) {
	if maxLen <= 0 {
		return nil, fmt.Errorf("t5: maxLen %d must be positive", maxLen)
	}
	if o.NumBeams < 1 {
		return nil, fmt.Errorf("t5: beam search: NumBeams %d must be at least 1", o.NumBeams)
	}
	if math.IsNaN(o.LengthPenalty) || math.IsInf(o.LengthPenalty, 0) {
		return nil, fmt.Errorf("t5: beam search: LengthPenalty %v must be finite", o.LengthPenalty)
	}
	if B <= 0 || S <= 0 {
		return nil, fmt.Errorf("t5: batch sizes B=%d S=%d must be positive", B, S)
	}
	if len(inputIDs) != B*S || (attentionMask != nil && len(attentionMask) != B*S) {
		return nil, fmt.Errorf("t5: beam search: input_ids (%d) and attention_mask (%d) must hold B·S = %d elements",
			len(inputIDs), len(attentionMask), B*S)
	}
	k, cfg := o.NumBeams, m.Config
	N, V, inner := B*k, cfg.VocabSize, cfg.Inner()
	// The encoder and the cross-attention keys and values run once per
	// input; their rows are copied to the input's k beam rows, which never
	// move.
	batch := Batch{B: B, S: S, T: 1, InputIDs: inputIDs, AttentionMask: attentionMask, DecoderInputIDs: make([]int32, B)}
	if err := m.checkBatch(&batch); err != nil {
		return nil, err
	}
	ps := &Pass{m: m, batch: m.withPrompt(batch), infer: true}
	defer ps.Release()
	g := &generator{ps: ps, L: maxLen, expand: k}
	if err := g.setup(); err != nil {
		return nil, err
	}
	e := &errs{}
	gathered := ps.alloc(e, maxLen*N*inner)
	if e.err != nil {
		return nil, e.err
	}
	rowIDs, err := m.Backend.Alloc(kernels.Int32, maxLen*N)
	if err != nil {
		return nil, fmt.Errorf("t5: %w", err)
	}
	ps.bufs = append(ps.bufs, rowIDs)

	eos, pad := int32(cfg.EOSTokenID), int32(cfg.PadTokenID)
	scores := make([]float64, N) // summed log-probabilities of the running beams
	for r := range scores {
		if r%k != 0 {
			scores[r] = -1e9 // only beam 0 is live at the start
		}
	}
	seqs := make([][]int32, N) // running beams' tokens without the start token
	hyps := make([]beamHyps, B)
	for b := range hyps {
		hyps[b] = beamHyps{k: k, lp: o.LengthPenalty, early: o.EarlyStopping, worst: 1e9}
	}
	done := make([]bool, B)
	cur := make([]int32, N)
	for r := range cur {
		cur[r] = int32(cfg.DecoderStartTokenID)
	}
	logits := make([]float32, N*V)
	logp := make([]float64, V)
	src := make([]int, N)
	nextTok := make([]int32, N)
	nextScore := make([]float64, N)
	top := make([]beamCand, 0, 2*k)
	for t := 0; t < maxLen; t++ {
		if err := g.step(t, cur, logits); err != nil {
			return nil, err
		}
		all := true
		for b := range B {
			if done[b] {
				for j := range k {
					r := b*k + j
					src[r], nextTok[r], nextScore[r] = r, pad, 0
				}
				continue
			}
			top = top[:0]
			for j := range k {
				r := b*k + j
				logSoftmax64(logp, logits[r*V:(r+1)*V])
				for v, lp := range logp {
					top = pushCand(top, 2*k, beamCand{score: scores[r] + lp, beam: j, tok: int32(v)})
				}
			}
			n := 0
			for rank, c := range top {
				if c.tok == eos {
					if rank < k {
						hyps[b].add(slices.Clone(seqs[b*k+c.beam]), c.score, t+1, true)
					}
				} else {
					r := b*k + n
					src[r], nextTok[r], nextScore[r] = b*k+c.beam, c.tok, c.score
					n++
				}
				if n == k {
					break
				}
			}
			if n < k {
				return nil, fmt.Errorf("t5: beam search: only %d of %d beams continue at step %d (vocabulary too small?)", n, k, t)
			}
			done[b] = hyps[b].isDone(top[0].score, t+1)
			all = all && done[b]
		}
		next := make([][]int32, N)
		identity := true
		for r := range N {
			next[r] = append(slices.Clone(seqs[src[r]]), nextTok[r])
			identity = identity && src[r] == r
		}
		seqs = next
		copy(scores, nextScore)
		copy(cur, nextTok)
		if all {
			break
		}
		if !identity {
			if err := g.reorder(t+1, src, gathered, rowIDs); err != nil {
				return nil, err
			}
		}
	}
	out := make([][]int32, B)
	for b := range B {
		if !done[b] {
			for j := range k {
				r := b*k + j
				hyps[b].add(seqs[r], scores[r], len(seqs[r])+1, false)
			}
		}
		best := hyps[b].best()
		out[b] = best.toks
		if best.eos {
			out[b] = append(out[b], eos)
		}
	}
	return out, nil
}

// reorder makes the self-attention cache rows of positions 0..n-1 those of
// the beams src (row r takes old row src[r]), gathering on the device.
func (g *generator) reorder(n int, src []int, gathered, rowIDs kernels.Buffer) error {
	be, inner := g.ps.m.Backend, g.ps.m.Config.Inner()
	N := len(src)
	ids := make([]int32, n*N)
	for p := range n {
		for r, s := range src {
			ids[p*N+r] = int32(p*N + s)
		}
	}
	e := &errs{}
	rid := rowIDs.Slice(0, n*N)
	e.do(be.UploadInt32(rid, ids))
	dst := gathered.Slice(0, n*N*inner)
	for i := range g.selfK {
		for _, c := range []kernels.Buffer{g.selfK[i], g.selfV[i]} {
			view := c.Slice(0, n*N*inner)
			e.do(be.Embedding(dst, view, rid, inner))
			e.do(be.Copy(view, dst))
		}
	}
	return e.err
}

// logSoftmax64 writes the log-softmax of x, in float64, into dst.
func logSoftmax64(dst []float64, x []float32) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	sum := 0.0
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	for i, v := range x {
		dst[i] = float64(v) - lse
	}
}

// beamCand is a candidate continuation: token tok after beam beam (index
// within its input's beams) with summed log-probability score.
type beamCand struct {
	score float64
	beam  int
	tok   int32
}

// pushCand inserts c into top, kept sorted by descending score and at most
// n long. Candidates arrive in Hugging Face's flattened order (beam, then
// token), and an equal score never displaces an earlier candidate, so
// ties resolve to the lowest flattened index, as argmax in Generate.
func pushCand(top []beamCand, n int, c beamCand) []beamCand {
	if len(top) == n && c.score <= top[n-1].score {
		return top
	}
	i := len(top)
	for i > 0 && top[i-1].score < c.score {
		i--
	}
	if len(top) < n {
		top = append(top, beamCand{})
	}
	copy(top[i+1:], top[i:len(top)-1])
	top[i] = c
	return top
}

// beamHyp is a finished hypothesis.
type beamHyp struct {
	score float64
	toks  []int32 // without the start token and the eos
	eos   bool
}

// beamHyps keeps the k best finished hypotheses of one input, as
// transformers' BeamHypotheses.
type beamHyps struct {
	k     int
	lp    float64
	early bool
	worst float64
	beams []beamHyp
}

// add offers a hypothesis of h positions (start token included) and summed
// log-probability sum.
func (bh *beamHyps) add(toks []int32, sum float64, h int, eos bool) {
	score := sum / math.Pow(float64(h), bh.lp)
	if len(bh.beams) >= bh.k && score <= bh.worst {
		return
	}
	bh.beams = append(bh.beams, beamHyp{score: score, toks: toks, eos: eos})
	if len(bh.beams) <= bh.k {
		bh.worst = min(score, bh.worst)
		return
	}
	// Drop the worst (the earliest of equals) and remember the next worst.
	w := 0
	for i, hy := range bh.beams {
		if hy.score < bh.beams[w].score {
			w = i
		}
	}
	bh.beams = slices.Delete(bh.beams, w, w+1)
	bh.worst = math.Inf(1)
	for _, hy := range bh.beams {
		bh.worst = min(bh.worst, hy.score)
	}
}

// isDone reports whether no running beam can improve the kept hypotheses,
// given the best running summed log-probability at length h.
func (bh *beamHyps) isDone(bestSum float64, h int) bool {
	if len(bh.beams) < bh.k {
		return false
	}
	if bh.early {
		return true
	}
	return bh.worst >= bestSum/math.Pow(float64(h), bh.lp)
}

// best returns the highest-scoring hypothesis (the latest of equals, as
// sorted(...).pop() in transformers).
func (bh *beamHyps) best() beamHyp {
	bi := 0
	for i, hy := range bh.beams {
		if hy.score >= bh.beams[bi].score {
			bi = i
		}
	}
	return bh.beams[bi]
}
