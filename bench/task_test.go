package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"
)

var (
	spmPath  = filepath.Join("..", "testdata", "tokenizer", "spiece.model")
	glueDir  = filepath.Join("..", "..", "shared", "glue")
	tinyGLUE = filepath.Join("glue", "testdata") // MNLI, QNLI and QQP fixtures of package glue
)

// TestRunTask trains two methods a step on RTE (the real files, when
// present) and on the MNLI fixture, and scores them by generation.
func TestRunTask(t *testing.T) {
	if _, err := os.Stat(spmPath); err != nil {
		t.Skip("no tokenizer model:", err)
	}
	cases := []Task{{Name: "mnli", DataDir: tinyGLUE, Tokenizer: spmPath, EvalSamples: 4}}
	if _, err := os.Stat(filepath.Join(glueDir, "RTE", "train.tsv")); err == nil {
		cases = append(cases, Task{Name: "rte", DataDir: glueDir, Tokenizer: spmPath, TrainSamples: 16, EvalSamples: 4})
	} else {
		t.Log("RTE not checked, no GLUE data:", err)
	}
	spm, err := tokenizer.Load(spmPath)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.NewT5(spm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range cases {
		cfg := tinyConfig()
		cfg.VocabSize = tok.VocabSize() // generation must stay within the tokenizer's ids
		o, err := Options{Model: cfg, Batch: 2, Seq: 16, Steps: 1,
			Methods: []peft.Method{peft.FullFinetune, peft.Compacter}}.WithTask(tk)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := Run(context.Background(), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tb.ScoreName, tk.Name+" ") || !strings.Contains(tb.ScoreNote(), "random weights") {
			t.Errorf("%s: score %q, note %q", tk.Name, tb.ScoreName, tb.ScoreNote())
		}
		for _, r := range tb.Rows {
			// Metrics ×100; random weights generate garbage, so 0 is likely.
			if math.IsNaN(r.Score) || r.Score < -100 || r.Score > 100 || r.Value() != r.Score {
				t.Errorf("%s %s: score %v", tk.Name, r.Method, r.Score)
			}
			if len(r.Losses) != 2 || !(r.Losses[0] > 0) {
				t.Errorf("%s %s: losses %v", tk.Name, r.Method, r.Losses)
			}
		}
	}
}

func TestTaskStream(t *testing.T) {
	ex := []taskExample{{in: []int32{5, 6, 1}, target: []int32{7, 1}}, {in: []int32{8, 1}, target: []int32{9, 1}},
		{in: []int32{4, 4, 4, 1}, target: []int32{3, 1}}}
	s := &taskStream{ex: ex, batch: 2, seed: 3}
	seen := map[int32]int{}
	for i := 0; i < 3; i++ { // 6 examples: two epochs
		b, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b.B != 2 || len(b.InputIDs) != b.B*b.S || len(b.Labels) != b.B*b.T || len(b.AttentionMask) != len(b.InputIDs) {
			t.Fatalf("batch %+v", b)
		}
		for r := 0; r < b.B; r++ {
			seen[b.InputIDs[r*b.S]]++
			n := 0
			for j := 0; j < b.S; j++ {
				n += int(b.AttentionMask[r*b.S+j])
				if b.AttentionMask[r*b.S+j] == 0 && b.InputIDs[r*b.S+j] != 0 {
					t.Errorf("masked position holds id %d", b.InputIDs[r*b.S+j])
				}
			}
			if last := b.Labels[r*b.T+b.T-1]; last != 1 && last != t5.IgnoreIndex {
				t.Errorf("label row ends in %d", last)
			}
		}
	}
	if seen[5] != 2 || seen[8] != 2 || seen[4] != 2 {
		t.Errorf("two epochs should show every example twice: %v", seen)
	}
}

func TestWithTaskErrors(t *testing.T) {
	for name, tk := range map[string]Task{
		"unknown task":  {Name: "squad", DataDir: tinyGLUE, Tokenizer: spmPath},
		"no data dir":   {Name: "mnli", Tokenizer: spmPath},
		"no tokenizer":  {Name: "mnli", DataDir: tinyGLUE},
		"bad tokenizer": {Name: "mnli", DataDir: tinyGLUE, Tokenizer: "nonexistent.model"},
		"no files":      {Name: "rte", DataDir: t.TempDir(), Tokenizer: spmPath},
		"negative":      {Name: "mnli", DataDir: tinyGLUE, Tokenizer: spmPath, EvalSamples: -1},
	} {
		if _, err := (Options{}).WithTask(tk); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	// The tokenizer's ids (2100) do not fit a small vocabulary.
	o, err := Options{Model: tinyConfig(), Steps: 1, Methods: []peft.Method{peft.BitFit}}.WithTask(
		Task{Name: "mnli", DataDir: tinyGLUE, Tokenizer: spmPath})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), o, nil); !errors.Is(err, ErrOptions) {
		t.Errorf("vocabulary 128 with a 2100-id tokenizer: %v", err)
	}
}
