package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/compacter-go/compacter/bench/glue"
)

// Generator describes how a subsample is drawn; it is stored in every
// result.json. TestGeneratorIsGluesShuffle checks it against glue.
const Generator = "glue.Task.Load(dir, seed, n): the training split permuted by " +
	"math/rand/v2 rand.New(rand.NewPCG(seed, 0x676c7565)).Perm — small tasks: of train.tsv's rows; " +
	"SST-2, QQP, QNLI: of train.tsv's rows, the first 1000 held out for validation — then its first n"

// Subsample records the training examples of a cell.
type Subsample struct {
	Task string `json:"task"`
	Seed uint64 `json:"seed"`
	// Generator is the rule that drew the subsample (the constant
	// Generator).
	Generator string `json:"generator"`
	// TrainFile is train.tsv relative to the data folder, TrainSHA256 the
	// sha256 of its bytes and TrainRows the size of the training split it
	// was drawn from.
	TrainFile   string `json:"train_file"`
	TrainSHA256 string `json:"train_sha256"`
	TrainRows   int    `json:"train_rows"`
	// Size is the number of examples; Lines their line numbers in
	// train.tsv (from 1, the header included), in the drawn order.
	Size  int   `json:"size"`
	Lines []int `json:"lines"`
	// ExamplesSHA256 is the sha256 of the examples in order, each as
	// input, a tab, target and a newline.
	ExamplesSHA256 string `json:"examples_sha256"`
}

// Draw returns the training subsample of size n of a task for a seed, as
// finetune.Run trains on it with Config{Seed: seed, TrainSamples: n}: the
// same call of glue.Task.Load. For a seed, the subsample of size n is the
// first n examples of that of any larger size.
func Draw(task *glue.Task, dataDir string, seed uint64, n int) (*Subsample, []glue.Example, error) {
	if n <= 0 {
		return nil, nil, fmt.Errorf("%w: subsample size %d must be positive", ErrConfig, n)
	}
	all, err := task.Load(dataDir, 0, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sweep: %w", err)
	}
	sum, err := fileSHA256(filepath.Join(dataDir, task.Dir, task.TrainFile))
	if err != nil {
		return nil, nil, err
	}
	return drawSubsample(task, dataDir, seed, n, len(all.Train), sum)
}

// drawSubsample is Draw with the training split's size and train.tsv's hash known.
func drawSubsample(task *glue.Task, dataDir string, seed uint64, n, rows int, sum string) (*Subsample, []glue.Example, error) {
	d, err := task.Load(dataDir, seed, n)
	if err != nil {
		return nil, nil, fmt.Errorf("sweep: %w", err)
	}
	s := &Subsample{Task: task.Name, Seed: seed, Generator: Generator, TrainFile: filepath.Join(task.Dir, task.TrainFile),
		TrainSHA256: sum, TrainRows: rows, Size: len(d.Train), Lines: make([]int, len(d.Train)), ExamplesSHA256: examplesSHA256(d.Train)}
	for i, e := range d.Train {
		s.Lines[i] = e.Line
	}
	return s, d.Train, nil
}

// examplesSHA256 hashes examples in order as "input\ttarget\n" each.
func examplesSHA256(ex []glue.Example) string {
	h := sha256.New()
	for _, e := range ex {
		io.WriteString(h, e.Input)
		h.Write([]byte{'\t'})
		io.WriteString(h, e.Target)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("sweep: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("sweep: %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
