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
	rng               *rand.Rand
	vocab, batch, seq int
}

// CopyStream returns the built-in batch stream: batch rows of seq token ids
// drawn uniformly from [2, vocab) (no padding, no end-of-sequence id) by a
// generator seeded with seed, and as target the same ids, so that the task
// (copy the input) is learnable and the loss says something about how far
// a method got. Every stream with the same arguments yields the same
// batches.
func CopyStream(vocab, batch, seq int, seed uint64) (Stream, error) {
	if vocab < 3 || batch <= 0 || seq <= 0 {
		return nil, fmt.Errorf("%w: copy stream needs vocab ≥ 3 (got %d), batch > 0 (got %d), seq > 0 (got %d)",
			ErrOptions, vocab, batch, seq)
	}
	return &copyStream{rng: rand.New(rand.NewPCG(seed, 0x62656e6368)), vocab: vocab, batch: batch, seq: seq}, nil
}

func (s *copyStream) Next() (t5.Batch, error) {
	n := s.batch * s.seq
	b := t5.Batch{B: s.batch, S: s.seq, T: s.seq, InputIDs: make([]int32, n), Labels: make([]int32, n)}
	for i := range b.InputIDs {
		b.InputIDs[i] = int32(2 + s.rng.IntN(s.vocab-2))
	}
	copy(b.Labels, b.InputIDs)
	return b, nil
}
