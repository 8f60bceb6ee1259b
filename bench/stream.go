package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/compacter-go/compacter/t5"
)

// Stream yields training batches.
type Stream interface {
	// Next returns the next batch.
	Next() (t5.Batch, error)
}

// copyStream is CopyStream's generator.
type copyStream struct {
	rng                    *rand.Rand
	vocab, batch, src, tgt int
}

// CopyStream returns the built-in batch stream: batch rows of seq token ids
// drawn uniformly from [2, vocab) (no padding, no end-of-sequence id) by a
// generator seeded with seed, and as target the same ids, so that the task
// (copy the input) is learnable and the loss says something about how far
// a method got. Every stream with the same arguments yields the same
// batches.
func CopyStream(vocab, batch, seq int, seed uint64) (Stream, error) {
	return CopyStreamLen(vocab, batch, seq, seq, seed)
}

// CopyStreamLen is CopyStream with encoder rows of src ids and decoder
// rows of tgt: the target of a row is its first tgt input ids (repeated
// from the start when tgt > src). With src = tgt it yields CopyStream's
// batches.
func CopyStreamLen(vocab, batch, src, tgt int, seed uint64) (Stream, error) {
	if vocab < 3 || batch <= 0 || src <= 0 || tgt <= 0 {
		return nil, fmt.Errorf("%w: copy stream needs vocab ≥ 3 (got %d), batch > 0 (got %d), source and target lengths > 0 (got %d, %d)",
			ErrOptions, vocab, batch, src, tgt)
	}
	return &copyStream{rng: rand.New(rand.NewPCG(seed, 0x62656e6368)), vocab: vocab, batch: batch, src: src, tgt: tgt}, nil
}

func (s *copyStream) Next() (t5.Batch, error) {
	b := t5.Batch{B: s.batch, S: s.src, T: s.tgt, InputIDs: make([]int32, s.batch*s.src), Labels: make([]int32, s.batch*s.tgt)}
	for i := range b.InputIDs {
		b.InputIDs[i] = int32(2 + s.rng.IntN(s.vocab-2))
	}
	for r := range s.batch {
		in, lab := b.InputIDs[r*s.src:(r+1)*s.src], b.Labels[r*s.tgt:(r+1)*s.tgt]
		for j := range lab {
			lab[j] = in[j%s.src]
		}
	}
	return b, nil
}
