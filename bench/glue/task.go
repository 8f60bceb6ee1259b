package glue

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrData reports a malformed data file or row.
var ErrData = errors.New("glue: bad data")

// Example is one text-to-text example.
type Example struct {
	// Input is the encoder text, e.g. "rte sentence1: … sentence2: …".
	Input string `json:"input"`
	// Target is the label word, e.g. "0" or (STS-B) "3.8".
	Target string `json:"target"`
	// File and Line locate the row (Line counts from 1, the header included).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Metric names, as the official code's metric_names.
const (
	MetricMatthews = "matthews_correlation"
	MetricAccuracy = "accuracy"
	MetricF1       = "f1"
	MetricPearson  = "pearson"
	MetricSpearman = "spearmanr"
)

// Task is one GLUE task: its files, input format, labels and metrics.
type Task struct {
	// Name is the official code's task name, also the input prefix
	// ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte").
	Name string
	// Dir is the task's folder in the GLUE layout ("CoLA", "SST-2", …).
	Dir string
	// Labels are the target words a prediction may be (for STS-B every
	// score of one decimal in [0, 5]).
	Labels []string
	// Metrics are the task's metrics, in the order of the paper's tables.
	Metrics []string
	// Small tasks (under 10k training rows) split dev.tsv into validation
	// and test halves; the others hold 1000 training rows out as
	// validation (MNLI: validation and test are its two dev files).
	Small bool
	// Files maps the splits to the files they are read from, relative to Dir.
	TrainFile, ValidationFile, TestFile string

	header   bool     // the file starts with a header row
	columns  int      // number of fields without a header
	text     []column // input fields and their prefixes
	label    column
	labelOf  func(string) (string, bool) // label field -> target word
	skipBad  bool                        // skip (and count) malformed rows
	numeric  bool                        // targets are numbers (STS-B)
	validOut int                         // rows of train held out as validation (large tasks)
}

// column is a field, by header name or (without a header) by index, with
// the prefix put before it in the input.
type column struct {
	name   string
	index  int
	prefix string
}

func binary(s string) (string, bool) { return s, s == "0" || s == "1" }

func words(m map[string]string) func(string) (string, bool) {
	return func(s string) (string, bool) { v, ok := m[s]; return v, ok }
}

// StsbTarget formats an STS-B score as the official code's target:
// str(np.round((label*5)/5, decimals=1)), which is the score rounded to
// one decimal (halves to even, as numpy rounds x·10) — not the 0.2 grid its
// docstring and the T5 paper describe.
func StsbTarget(score float64) string {
	return strconv.FormatFloat(math.RoundToEven(score*10)/10, 'f', 1, 64)
}

func stsbLabel(s string) (string, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 5) {
		return "", false
	}
	return StsbTarget(v), true
}

var tasks = func() []*Task {
	entail := words(map[string]string{"entailment": "0", "not_entailment": "1"})
	stsb := make([]string, 51)
	for i := range stsb {
		stsb[i] = StsbTarget(float64(i) / 10)
	}
	return []*Task{
		{Name: "cola", Dir: "CoLA", Labels: []string{"0", "1"}, Metrics: []string{MetricMatthews}, Small: true,
			columns: 4, text: []column{{index: 3, prefix: "sentence:"}}, label: column{index: 1}, labelOf: binary},
		{Name: "sst2", Dir: "SST-2", Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy},
			header: true, text: []column{{name: "sentence", prefix: "sentence:"}}, label: column{name: "label"}, labelOf: binary},
		{Name: "mrpc", Dir: "MRPC", Labels: []string{"0", "1"}, Metrics: []string{MetricF1, MetricAccuracy}, Small: true,
			header: true, text: []column{{name: "#1 String", prefix: "sentence1:"}, {name: "#2 String", prefix: "sentence2:"}},
			label: column{name: "Quality"}, labelOf: binary},
		{Name: "qqp", Dir: "QQP", Labels: []string{"0", "1"}, Metrics: []string{MetricF1, MetricAccuracy},
			header: true, text: []column{{name: "question1", prefix: "question1:"}, {name: "question2", prefix: "question2:"}},
			label: column{name: "is_duplicate"}, labelOf: binary, skipBad: true},
		{Name: "stsb", Dir: "STS-B", Labels: stsb, Metrics: []string{MetricPearson, MetricSpearman}, Small: true,
			header: true, text: []column{{name: "sentence1", prefix: "sentence1:"}, {name: "sentence2", prefix: "sentence2:"}},
			label: column{name: "score"}, labelOf: stsbLabel, numeric: true},
		{Name: "mnli", Dir: "MNLI", Labels: []string{"0", "1", "2"}, Metrics: []string{MetricAccuracy},
			TrainFile: "train.tsv", ValidationFile: "dev_mismatched.tsv", TestFile: "dev_matched.tsv",
			header: true, text: []column{{name: "sentence1", prefix: "premise:"}, {name: "sentence2", prefix: "hypothesis:"}},
			label: column{name: "gold_label"}, labelOf: words(map[string]string{"entailment": "0", "neutral": "1", "contradiction": "2"})},
		{Name: "qnli", Dir: "QNLI", Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy},
			header: true, text: []column{{name: "question", prefix: "question:"}, {name: "sentence", prefix: "sentence:"}},
			label: column{name: "label"}, labelOf: entail},
		{Name: "rte", Dir: "RTE", Labels: []string{"0", "1"}, Metrics: []string{MetricAccuracy}, Small: true,
			header: true, text: []column{{name: "sentence1", prefix: "sentence1:"}, {name: "sentence2", prefix: "sentence2:"}},
			label: column{name: "label"}, labelOf: entail},
	}
}()

func init() {
	for _, t := range tasks {
		if t.TrainFile == "" {
			t.TrainFile = "train.tsv"
		}
		if t.ValidationFile == "" {
			t.ValidationFile, t.TestFile = "dev.tsv", "dev.tsv"
			if !t.Small {
				t.ValidationFile = "train.tsv"
				t.validOut = 1000
			}
		}
	}
}

// Tasks lists the tasks in the order of the paper's tables.
func Tasks() []*Task { return slices.Clone(tasks) }

// Lookup finds a task by its official name or GLUE folder name, ignoring
// case and dashes ("rte", "RTE", "sst-2", "STS-B", "stsb").
func Lookup(name string) (*Task, error) {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "")) }
	for _, t := range tasks {
		if norm(name) == t.Name || norm(name) == norm(t.Dir) {
			return t, nil
		}
	}
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.Name
	}
	return nil, fmt.Errorf("glue: unknown task %q (known: %s)", name, strings.Join(names, ", "))
}

// Format builds the input text from the task's fields in order, as the
// official seq2seq_format: "<task> <prefix1> <text1> <prefix2> <text2>".
func (t *Task) Format(fields ...string) string {
	parts := []string{t.Name}
	for i, f := range fields {
		if i < len(t.text) {
			parts = append(parts, t.text[i].prefix)
		}
		parts = append(parts, f)
	}
	return strings.Join(parts, " ")
}

// Data holds the three splits of a task.
type Data struct {
	Train, Validation, Test []Example
	// Skipped counts malformed rows skipped (QQP only), over all files read.
	Skipped int
}

// Load reads the task's files from dir (the GLUE layout: dir/<Task.Dir>/…)
// and makes the official splits with a shuffle seeded by seed (the paper
// used 42). With trainSamples > 0 the training split is cut to its first
// trainSamples examples after a seeded shuffle, as the official code's
// n_obs (the low-resource experiments); more than there are is an error.
func (t *Task) Load(dir string, seed uint64, trainSamples int) (*Data, error) {
	if trainSamples < 0 {
		return nil, fmt.Errorf("glue: negative number of training samples %d", trainSamples)
	}
	read := func(name string) ([]Example, int, error) {
		return t.ReadFile(filepath.Join(dir, t.Dir, name))
	}
	d := &Data{}
	train, sk, err := read(t.TrainFile)
	if err != nil {
		return nil, err
	}
	d.Skipped += sk
	switch {
	case t.Small:
		dev, sk, err := read(t.ValidationFile)
		if err != nil {
			return nil, err
		}
		d.Skipped += sk
		p := shuffled(len(dev), seed)
		half := len(dev) / 2
		d.Validation, d.Test = pick(dev, p[:half]), pick(dev, p[half:])
		d.Train = train
		if trainSamples > 0 {
			d.Train = pick(train, shuffled(len(train), seed))
		}
	case t.validOut > 0:
		if len(train) <= t.validOut {
			return nil, fmt.Errorf("%w: %s: %d training rows, need more than the %d held out for validation",
				ErrData, filepath.Join(dir, t.Dir, t.TrainFile), len(train), t.validOut)
		}
		p := shuffled(len(train), seed)
		d.Validation, d.Train = pick(train, p[:t.validOut]), pick(train, p[t.validOut:])
		if d.Test, sk, err = read(t.TestFile); err != nil {
			return nil, err
		}
		d.Skipped += sk
	default: // MNLI
		d.Train = train
		if trainSamples > 0 {
			d.Train = pick(train, shuffled(len(train), seed))
		}
		if d.Validation, sk, err = read(t.ValidationFile); err != nil {
			return nil, err
		}
		d.Skipped += sk
		if d.Test, sk, err = read(t.TestFile); err != nil {
			return nil, err
		}
		d.Skipped += sk
	}
	if trainSamples > 0 {
		if trainSamples > len(d.Train) {
			return nil, fmt.Errorf("glue: %s has %d training examples, fewer than the %d asked for", t.Name, len(d.Train), trainSamples)
		}
		d.Train = d.Train[:trainSamples]
	}
	return d, nil
}

// shuffled is a permutation of 0…n-1 drawn from seed.
func shuffled(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 0x676c7565)).Perm(n)
}

func pick(ex []Example, idx []int) []Example {
	out := make([]Example, len(idx))
	for i, j := range idx {
		out[i] = ex[j]
	}
	return out
}
