package finetune

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"
)

// encoded is a tokenized example.
type encoded struct {
	in, target []int32
}

// encode tokenizes examples: inputs truncated to maxLen tokens (the last
// one </s>), targets with their </s>.
func encode(tok *tokenizer.T5, ex []glue.Example, maxLen int) []encoded {
	out := make([]encoded, len(ex))
	for i, e := range ex {
		in := tok.Encode(e.Input)
		if maxLen > 0 && len(in) > maxLen {
			in = append(in[:maxLen-1], tokenizer.EOSID)
		}
		out[i] = encoded{in: in, target: tok.Encode(e.Target)}
	}
	return out
}

// makeBatch pads the examples idx of enc into a training batch: inputs
// with <pad> and a mask, labels with t5.IgnoreIndex (the decoder inputs are
// the labels shifted right).
func makeBatch(enc []encoded, idx []int) t5.Batch {
	b := t5.Batch{B: len(idx)}
	for _, i := range idx {
		b.S = max(b.S, len(enc[i].in))
		b.T = max(b.T, len(enc[i].target))
	}
	b.InputIDs = make([]int32, b.B*b.S)
	b.AttentionMask = make([]int32, b.B*b.S)
	b.Labels = make([]int32, b.B*b.T)
	for r, i := range idx {
		copy(b.InputIDs[r*b.S:], enc[i].in)
		for j := range enc[i].in {
			b.AttentionMask[r*b.S+j] = 1
		}
		row := b.Labels[r*b.T : (r+1)*b.T]
		for j := range row {
			row[j] = t5.IgnoreIndex
		}
		copy(row, enc[i].target)
	}
	return b
}

// epochOrder is the order of the n training examples in an epoch, drawn
// from the seed and the epoch alone (so a resumed run sees the same).
func epochOrder(n int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, 0x65706f6368^uint64(epoch))).Perm(n)
}

// dropoutSeed is the dropout seed of optimizer step s.
func dropoutSeed(seed uint64, s int) uint64 {
	return rand.New(rand.NewPCG(seed, 0x64726f70^uint64(s))).Uint64()
}

// microSeed is the dropout seed of micro-batch i of optimizer step s: the
// step's dropoutSeed for the first, one of its own for each other, so that
// a micro-batch has the same masks on whichever rank it runs.
func microSeed(seed uint64, s, i int) uint64 {
	d := dropoutSeed(seed, s)
	if i > 0 {
		d = rand.New(rand.NewPCG(d, 0x6d6963726f^uint64(i))).Uint64()
	}
	return max(d, 1) // 0 would mean "no reseeding"
}

// genLen is the number of tokens to generate for a task: the longest
// label word with its </s>.
func genLen(tok *tokenizer.T5, task *glue.Task) int {
	n := 1
	for _, l := range task.Labels {
		n = max(n, len(tok.Encode(l)))
	}
	return n
}

// Evaluate generates greedily for every example (batch at a time, inputs
// truncated to maxLen tokens, at most as many tokens as the task's longest
// label word) and scores the predictions with the task's metrics. It
// returns the decoded predictions too. Dropout is switched off.
func Evaluate(m *t5.Model, tok *tokenizer.T5, task *glue.Task, ex []glue.Example, batch, maxLen int) (glue.Result, []string, error) {
	if batch <= 0 {
		return glue.Result{}, nil, fmt.Errorf("finetune: evaluation batch %d must be positive", batch)
	}
	pred, err := predict(m, tok, task, ex, batch, maxLen)
	if err != nil {
		return glue.Result{}, nil, err
	}
	target := make([]string, len(ex))
	for i, e := range ex {
		target[i] = e.Target
	}
	r, err := task.Evaluate(pred, target)
	return r, pred, err
}

// predict generates greedily for every example and returns the decoded,
// trimmed predictions (see Evaluate).
func predict(m *t5.Model, tok *tokenizer.T5, task *glue.Task, ex []glue.Example, batch, maxLen int) ([]string, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("finetune: evaluation batch %d must be positive", batch)
	}
	m.SetTraining(false, 0)
	enc := encode(tok, ex, maxLen)
	gl := genLen(tok, task)
	pred := make([]string, len(ex))
	for lo := 0; lo < len(ex); lo += batch {
		hi := min(lo+batch, len(ex))
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		b := makeBatch(enc, idx)
		out, err := m.Generate(b.InputIDs, b.AttentionMask, b.B, b.S, gl)
		if err != nil {
			return nil, err
		}
		for i, ids := range out {
			s, err := tok.Decode(ids)
			if err != nil {
				return nil, err
			}
			pred[lo+i] = strings.TrimSpace(s)
		}
	}
	return pred, nil
}
