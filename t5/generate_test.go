package t5

import (
	"slices"
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// Greedy decoding with the cache must give the tokens of greedy decoding by
// full forward passes over the growing prefix.
func TestGenerateMatchesFullForward(t *testing.T) {
	for _, c := range refCases {
		t.Run(c, func(t *testing.T) {
			be := openBackend(t, "cpu")
			m, batch, _ := loadRef(t, be, c)
			m.Config.EOSTokenID = m.Config.VocabSize - 1 // random weights: keep decoding
			const maxLen = 12
			got, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			for b := 0; b < batch.B; b++ {
				prefix := []int32{int32(m.Config.DecoderStartTokenID)}
				var want []int32
				for len(want) < maxLen {
					one := Batch{B: 1, S: batch.S, T: len(prefix), InputIDs: batch.InputIDs[b*batch.S : (b+1)*batch.S],
						AttentionMask: batch.AttentionMask[b*batch.S : (b+1)*batch.S], DecoderInputIDs: prefix}
					ps, err := m.Forward(one, false)
					if err != nil {
						t.Fatal(err)
					}
					logits := kerneltest.Download(t, be, ps.Logits)
					ps.Release()
					next := int32(argmax(logits[(len(prefix)-1)*V:]))
					want = append(want, next)
					prefix = append(prefix, next)
					if next == int32(m.Config.EOSTokenID) {
						break
					}
				}
				if !slices.Equal(got[b], want) {
					t.Errorf("row %d: cached decoding %v, full forward %v", b, got[b], want)
				}
			}
			t.Logf("row 0: %v", got[0])
		})
	}
}

func TestGenerateStopsAtEOS(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-relu")
	first, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Make the first generated token of row 0 the eos token: row 0 stops
	// after one token.
	m.Config.EOSTokenID = int(first[0][0])
	got, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 1 {
		t.Errorf("row 0: %v, want one token (eos)", got[0])
	}
	if _, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, 0); err == nil {
		t.Error("maxLen 0: no error")
	}
}

// Each cached decoding step, teacher-forced with the batch's decoder inputs,
// must give the logits of the full forward pass at that position.
func TestCachedStepLogits(t *testing.T) {
	for _, c := range refCases {
		t.Run(c, func(t *testing.T) {
			be := openBackend(t, "cpu")
			m, batch, _ := loadRef(t, be, c)
			ps, err := m.Forward(batch, false)
			if err != nil {
				t.Fatal(err)
			}
			full := kerneltest.Download(t, be, ps.Logits)
			ps.Release()
			gp := &Pass{m: m, batch: Batch{B: batch.B, S: batch.S, T: 1, InputIDs: batch.InputIDs, AttentionMask: batch.AttentionMask}}
			defer gp.Release()
			g := &generator{ps: gp, L: batch.T}
			if err := g.setup(); err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			logits := make([]float32, batch.B*V)
			ids := make([]int32, batch.B)
			for step := 0; step < batch.T; step++ {
				for b := range ids {
					ids[b] = batch.DecoderInputIDs[b*batch.T+step]
				}
				if err := g.step(step, ids, logits); err != nil {
					t.Fatal(err)
				}
				for b := 0; b < batch.B; b++ {
					want := full[(b*batch.T+step)*V : (b*batch.T+step+1)*V]
					kerneltest.CloseTo(t, "cached logits", logits[b*V:(b+1)*V], want, 1e-5, 1e-4)
				}
			}
		})
	}
}
