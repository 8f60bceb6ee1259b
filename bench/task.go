package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"
)

// Task selects a GLUE task for the score column (Options.WithTask).
type Task struct {
	// Name is the task ("rte", "sst2", "cola", …; glue.Lookup).
	Name string
	// DataDir holds the task in the GLUE layout (DataDir/RTE/train.tsv, …).
	DataDir string
	// Tokenizer is the spiece.model file; empty means
	// Options.ModelDir/spiece.model.
	Tokenizer string
	// TrainSamples, when positive, keeps that many training examples
	// (glue.Task.Load's low-resource cut).
	TrainSamples int
	// EvalSamples, when positive, scores only the first EvalSamples
	// examples of the validation split.
	EvalSamples int
}

// WithTask returns o set up to train on a GLUE task's training split and to
// score every method on its validation split after training (the task's
// metric ×100, the mean of its metrics where it has several, by greedy
// generation: finetune.Evaluate): Data streams the tokenized training
// examples (inputs cut to SourceLen, else Seq, tokens) in a seeded order,
// Batch at a time, padded to the longest row of each batch as the official
// code pads (an unset EpochExamples becomes the training split's size),
// Score evaluates and ScoreName names the metric. The score is measured
// after the benchmark's few steps, so it is a paper's score only after as
// many steps as the paper trained (use compacter train for real runs),
// and only from a pretrained checkpoint (Options.ModelDir). Call it after
// setting Batch, Seq and Seed: the stream is built with them.
func (o Options) WithTask(tk Task) (Options, error) {
	task, err := glue.Lookup(tk.Name)
	if err != nil {
		return o, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	if tk.DataDir == "" {
		return o, fmt.Errorf("%w: task %s needs a data directory", ErrOptions, task.Name)
	}
	if tk.TrainSamples < 0 || tk.EvalSamples < 0 {
		return o, fmt.Errorf("%w: negative sample count", ErrOptions)
	}
	spmPath := tk.Tokenizer
	if spmPath == "" {
		if o.ModelDir == "" {
			return o, fmt.Errorf("%w: task %s needs a tokenizer (spiece.model) or a model directory holding one", ErrOptions, task.Name)
		}
		spmPath = filepath.Clean(o.ModelDir) // a directory: tokenizer.Load picks spiece.model or tokenizer.json
	}
	spm, err := tokenizer.Load(spmPath)
	if err != nil {
		return o, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	tok, err := tokenizer.NewT5(spm)
	if err != nil {
		return o, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	seed := o.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	data, err := task.Load(tk.DataDir, seed, tk.TrainSamples)
	if err != nil {
		return o, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	if len(data.Train) == 0 || len(data.Validation) == 0 {
		return o, fmt.Errorf("%w: %s: empty split (%d train, %d validation)", ErrOptions, task.Name, len(data.Train), len(data.Validation))
	}
	valid := data.Validation
	if tk.EvalSamples > 0 {
		valid = valid[:min(tk.EvalSamples, len(valid))]
	}
	batch, seq := o.Batch, o.Seq
	if o.SourceLen > 0 {
		seq = o.SourceLen
	}
	if o.EpochExamples == 0 {
		o.EpochExamples = len(data.Train)
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	if seq <= 0 {
		seq = DefaultSeq
	}
	train := make([]taskExample, len(data.Train))
	for i, e := range data.Train {
		in := tok.Encode(e.Input)
		if len(in) > seq {
			in = append(in[:seq-1], tokenizer.EOSID)
		}
		train[i] = taskExample{in: in, target: tok.Encode(e.Target)}
	}
	o.Data = func(vocab int) (Stream, error) {
		if tok.VocabSize() > vocab {
			return nil, fmt.Errorf("%w: the tokenizer's %d ids exceed the model's vocabulary of %d", ErrOptions, tok.VocabSize(), vocab)
		}
		return &taskStream{ex: train, batch: min(batch, len(train)), seed: seed}, nil
	}
	o.Score = func(ctx context.Context, m *t5.Model) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		r, _, err := finetune.Evaluate(m, tok, task, valid, batch, seq)
		if err != nil {
			return 0, err
		}
		return r.Score, nil
	}
	o.ScoreName = fmt.Sprintf("%s %s", task.Name, strings.Join(task.Metrics, "/"))
	return o, nil
}

// taskExample is a tokenized training example.
type taskExample struct{ in, target []int32 }

// taskStream yields a task's training examples in epochs, each in an order
// drawn from the seed and the epoch, padded to the longest of the batch.
type taskStream struct {
	ex          []taskExample
	batch       int
	seed        uint64
	epoch, next int
	order       []int
}

func (s *taskStream) Next() (t5.Batch, error) {
	if len(s.ex) == 0 {
		return t5.Batch{}, errors.New("bench: empty task stream")
	}
	idx := make([]int, 0, s.batch)
	for len(idx) < s.batch {
		if s.order == nil || s.next == len(s.order) {
			s.order = rand.New(rand.NewPCG(s.seed, 0x7461736b^uint64(s.epoch))).Perm(len(s.ex))
			s.epoch++
			s.next = 0
		}
		idx = append(idx, s.order[s.next])
		s.next++
	}
	b := t5.Batch{B: len(idx)}
	for _, i := range idx {
		b.S = max(b.S, len(s.ex[i].in))
		b.T = max(b.T, len(s.ex[i].target))
	}
	b.InputIDs = make([]int32, b.B*b.S)
	b.AttentionMask = make([]int32, b.B*b.S)
	b.Labels = make([]int32, b.B*b.T)
	for r, i := range idx {
		copy(b.InputIDs[r*b.S:], s.ex[i].in)
		for j := range s.ex[i].in {
			b.AttentionMask[r*b.S+j] = 1
		}
		row := b.Labels[r*b.T : (r+1)*b.T]
		for j := range row {
			row[j] = t5.IgnoreIndex
		}
		copy(row, s.ex[i].target)
	}
	return b, nil
}
