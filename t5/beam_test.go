package t5

import (
	"math"
	"slices"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// seqLogProbs scores, by teacher-forced Forward passes and a float64
// log-softmax, the summed log-probability of each decoded sequence
// seqs[r] given encoder row rows[r] of batch.
func seqLogProbs(t *testing.T, m *Model, be kernels.Backend, batch Batch, rows []int, seqs [][]int32) []float64 {
	t.Helper()
	V, out := m.Config.VocabSize, make([]float64, len(seqs))
	logp := make([]float64, V)
	for i, toks := range seqs {
		b := rows[i]
		dec := append([]int32{int32(m.Config.DecoderStartTokenID)}, toks[:len(toks)-1]...)
		one := Batch{B: 1, S: batch.S, T: len(dec), InputIDs: batch.InputIDs[b*batch.S : (b+1)*batch.S], DecoderInputIDs: dec}
		if batch.AttentionMask != nil {
			one.AttentionMask = batch.AttentionMask[b*batch.S : (b+1)*batch.S]
		}
		ps, err := m.Forward(one, false)
		if err != nil {
			t.Fatal(err)
		}
		logits := kerneltest.Download(t, be, ps.Logits)
		ps.Release()
		for p, tok := range toks {
			logSoftmax64(logp, logits[p*V:(p+1)*V])
			out[i] += logp[tok]
		}
	}
	return out
}

// One beam is greedy decoding: the same tokens as Generate, eos included.
func TestBeamOneBeamIsGreedy(t *testing.T) {
	for _, c := range refCases {
		be := openBackend(t, "cpu")
		m, batch, _ := loadRef(t, be, c)
		for _, eos := range []int{m.Config.EOSTokenID, m.Config.VocabSize - 1} {
			m.Config.EOSTokenID = eos
			const maxLen = 10
			want, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.GenerateBeam(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, maxLen, DefaultBeamOptions(1))
			if err != nil {
				t.Fatal(err)
			}
			for b := range want {
				if !slices.Equal(got[b], want[b]) {
					t.Errorf("%s eos %d row %d: one beam %v, greedy %v", c, eos, b, got[b], want[b])
				}
			}
		}
	}
}

// Beam search finds sequences at least as likely as greedy decoding's, and
// strictly more likely ones somewhere on the reference models.
func TestBeamBeatsGreedy(t *testing.T) {
	better := 0
	for _, c := range refCases {
		be := openBackend(t, "cpu")
		m, batch, _ := loadRef(t, be, c)
		m.Config.EOSTokenID = m.Config.VocabSize - 1 // random weights: keep decoding
		const maxLen = 6
		greedy, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		beam, err := m.GenerateBeam(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, maxLen,
			BeamOptions{NumBeams: 4, LengthPenalty: 0})
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]int, batch.B)
		for b := range rows {
			rows[b] = b
		}
		gs := seqLogProbs(t, m, be, batch, rows, greedy)
		bs := seqLogProbs(t, m, be, batch, rows, beam)
		for b := range rows {
			t.Logf("%s row %d: greedy %v (%.5f), beam %v (%.5f)", c, b, greedy[b], gs[b], beam[b], bs[b])
			if bs[b] < gs[b]-1e-4 {
				t.Errorf("%s row %d: beam log-prob %.6f < greedy %.6f", c, b, bs[b], gs[b])
			}
			if bs[b] > gs[b]+1e-3 {
				better++
			}
		}
	}
	if better == 0 {
		t.Error("beam search never beat greedy decoding: the test does not exercise it")
	}
}

// With as many beams as tokens and two steps, beam search is exhaustive:
// under length penalty 0 it must return the most likely of all sequences
// [eos], [v, eos] and [v, w], found here by brute force.
func TestBeamExhaustive(t *testing.T) {
	for _, c := range refCases {
		t.Run(c, func(t *testing.T) { testBeamExhaustive(t, c) })
	}
}

func testBeamExhaustive(t *testing.T, c string) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, c)
	V, eos := m.Config.VocabSize, int32(m.Config.EOSTokenID)
	got, err := m.GenerateBeam(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, 2, BeamOptions{NumBeams: V})
	if err != nil {
		t.Fatal(err)
	}
	logp := make([]float64, V)
	for b := range batch.B {
		// All V two-token prefixes [start, v] of row b in one batch.
		one := Batch{B: V, S: batch.S, T: 2}
		for v := range V {
			one.InputIDs = append(one.InputIDs, batch.InputIDs[b*batch.S:(b+1)*batch.S]...)
			one.AttentionMask = append(one.AttentionMask, batch.AttentionMask[b*batch.S:(b+1)*batch.S]...)
			one.DecoderInputIDs = append(one.DecoderInputIDs, int32(m.Config.DecoderStartTokenID), int32(v))
		}
		ps, err := m.Forward(one, false)
		if err != nil {
			t.Fatal(err)
		}
		logits := kerneltest.Download(t, be, ps.Logits)
		ps.Release()
		logSoftmax64(logp, logits[:V])
		first := slices.Clone(logp)
		bestSeq, best := []int32{eos}, first[eos]
		for v := range V {
			if int32(v) == eos {
				continue
			}
			logSoftmax64(logp, logits[(2*v+1)*V:(2*v+2)*V])
			for w := range V {
				if s := first[v] + logp[w]; s > best {
					bestSeq, best = []int32{int32(v), int32(w)}, s
				}
			}
		}
		gs := seqLogProbs(t, m, be, batch, []int{b}, got[b:b+1])[0]
		t.Logf("row %d: beam %v (%.5f), brute force %v (%.5f)", b, got[b], gs, bestSeq, best)
		if math.Abs(gs-best) > 1e-4 {
			t.Errorf("row %d: beam %v log-prob %.6f, best %v %.6f", b, got[b], gs, bestSeq, best)
		}
	}
}

func TestBeamHypsLikeTransformers(t *testing.T) {
	bh := beamHyps{k: 2, lp: 1, worst: 1e9}
	bh.add([]int32{5}, -4, 2, true) // score -2
	if bh.isDone(-1, 2) {
		t.Error("done with one of two hypotheses")
	}
	bh.add([]int32{6, 7}, -3, 3, true) // score -1
	bh.add([]int32{8}, -6, 2, true)    // score -3: worse than both, dropped
	if len(bh.beams) != 2 || bh.worst != -2 {
		t.Fatalf("beams %+v worst %v, want two, worst -2", bh.beams, bh.worst)
	}
	bh.add([]int32{9}, -3, 2, false) // score -1.5 replaces -2
	if bh.worst != -1.5 || !slices.Equal(bh.best().toks, []int32{6, 7}) {
		t.Errorf("worst %v best %v, want -1.5 and [6 7]", bh.worst, bh.best().toks)
	}
	// A running beam with sum -4 at length 2 scores -2 < -1.5: done.
	if !bh.isDone(-4, 2) || bh.isDone(-2, 2) {
		t.Error("isDone: wrong cut-off against the worst kept hypothesis")
	}
	bh.early = true
	if !bh.isDone(0, 2) {
		t.Error("early stopping: not done with k hypotheses")
	}
}

func TestBeamEarlyStoppingAndPenalty(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-gated")
	for _, o := range []BeamOptions{{NumBeams: 3, LengthPenalty: 1, EarlyStopping: true}, {NumBeams: 3, LengthPenalty: -1}, {NumBeams: 3, LengthPenalty: 2}} {
		got, err := m.GenerateBeam(batch.InputIDs, nil, batch.B, batch.S, 5, o)
		if err != nil {
			t.Fatal(err)
		}
		for b, s := range got {
			if len(s) == 0 || len(s) > 5 || (len(s) < 5 && s[len(s)-1] != int32(m.Config.EOSTokenID)) {
				t.Errorf("%+v row %d: %v is neither eos-terminated nor of maxLen", o, b, s)
			}
		}
	}
}

func TestBeamErrors(t *testing.T) {
	be := openBackend(t, "purego")
	m, batch, _ := loadRef(t, be, "tiny-relu")
	ids, mask, B, S := batch.InputIDs, batch.AttentionMask, batch.B, batch.S
	for name, f := range map[string]func() error{
		"no beams":       func() error { _, err := m.GenerateBeam(ids, mask, B, S, 4, BeamOptions{}); return err },
		"negative beams": func() error { _, err := m.GenerateBeam(ids, mask, B, S, 4, BeamOptions{NumBeams: -2}); return err },
		"NaN penalty": func() error {
			_, err := m.GenerateBeam(ids, mask, B, S, 4, BeamOptions{NumBeams: 2, LengthPenalty: math.NaN()})
			return err
		},
		"Inf penalty": func() error {
			_, err := m.GenerateBeam(ids, mask, B, S, 4, BeamOptions{NumBeams: 2, LengthPenalty: math.Inf(1)})
			return err
		},
		"maxLen 0":   func() error { _, err := m.GenerateBeam(ids, mask, B, S, 0, DefaultBeamOptions(2)); return err },
		"short ids":  func() error { _, err := m.GenerateBeam(ids[1:], mask, B, S, 4, DefaultBeamOptions(2)); return err },
		"short mask": func() error { _, err := m.GenerateBeam(ids, mask[1:], B, S, 4, DefaultBeamOptions(2)); return err },
		"zero batch": func() error { _, err := m.GenerateBeam(nil, nil, 0, S, 4, DefaultBeamOptions(2)); return err },
		"bad token id": func() error {
			bad := slices.Clone(ids)
			bad[0] = -1
			_, err := m.GenerateBeam(bad, mask, B, S, 4, DefaultBeamOptions(2))
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
