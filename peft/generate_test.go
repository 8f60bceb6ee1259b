package peft

import (
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

// TestGenerate checks that greedy generation with the key/value cache
// applies every method as the full forward does: its tokens equal the
// argmax of Forward's logits re-run on the growing decoder input.
func TestGenerate(t *testing.T) {
	const L = 4
	for _, meth := range Methods {
		t.Run(string(meth), func(t *testing.T) {
			be := openBackend(t, "cpu")
			a, batch := loadCase(t, be, meth)
			m := a.Model
			got, err := m.Generate(batch.InputIDs, batch.AttentionMask, batch.B, batch.S, L)
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			dec := make([][]int32, batch.B)
			for b := range dec {
				dec[b] = []int32{int32(m.Config.DecoderStartTokenID)}
			}
			for step := 1; step <= L; step++ {
				in := make([]int32, 0, batch.B*step)
				for b := range dec {
					in = append(in, dec[b]...)
				}
				ps, err := m.Forward(t5.Batch{B: batch.B, S: batch.S, T: step, InputIDs: batch.InputIDs,
					AttentionMask: batch.AttentionMask, DecoderInputIDs: in}, false)
				if err != nil {
					t.Fatal(err)
				}
				lg := kerneltest.Download(t, be, ps.Logits)
				ps.Release()
				for b := range dec {
					row := lg[(b*step+step-1)*V : (b*step+step)*V]
					best := 0
					for v := range row {
						if row[v] > row[best] {
							best = v
						}
					}
					dec[b] = append(dec[b], int32(best))
				}
			}
			for b := range got {
				for i, tok := range got[b] {
					if tok != dec[b][i+1] {
						t.Fatalf("sequence %d: Generate %v, greedy forward %v", b, got[b], dec[b][1:])
					}
				}
			}
		})
	}
}
