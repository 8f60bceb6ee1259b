package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compacter-go/compacter/bench"
	"github.com/compacter-go/compacter/t5"
)

func init() {
	commands["bench"] = command{"the paper's efficiency table (params, memory, time per epoch) measured here",
		func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return runBench(ctx, args, stdout, stderr)
		}}
}

const benchHelp = `Usage: compacter bench [flags]

Measures the Compacter paper's efficiency table on this machine: for full
fine-tuning and the ten parameter-efficient methods (in the paper's order), the
trained parameters (count and % of the model), the backend's peak memory (MiB)
and its change against full fine-tuning, the time per epoch (--epoch-examples
examples at the measured seconds per step) and its change, and the final
training loss. Each method gets a fresh model with deterministic random weights
(or --model's checkpoint weights), the paper's settings (adapted where the shape
needs it, noted under the table), one warm-up step and --steps timed steps on a
built-in seeded batch stream (random token ids, target = input).

Without a pretrained checkpoint and a task the last column is a training loss
from random weights on random tokens: not the paper's score and not comparable
to it. With --task and --data each method trains on the task's training split
instead and the last column is the task's metric on its validation split (x100,
by generation) after the timed steps: a paper's score needs --model with a
pretrained checkpoint and as many steps as the paper trained (compacter train
does the full runs).

With no flags: a t5-small-shaped model, batch 4 x 64 tokens, 5 timed steps per
method (about 2 minutes on 2 cores). The paper's shape, saved and re-plotted:

  compacter bench --shape t5-base --batch 8 --seq 128 --format json --out base.json
  compacter bench --from base.json --plot tradeoff

Flags:
`

// benchFlags are the parsed flags of compacter bench.
type benchFlags struct {
	opts     bench.Options
	format   string
	plot     string
	out      string
	from     string
	progress bool
	task     bench.Task
}

func parseBenchFlags(args []string, stderr io.Writer) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchHelp)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.opts.Shape, "shape", bench.DefaultShape, "model shape: t5-small, t5-base, t5-large, t5-v1_1-small, t5-v1_1-base")
	fs.StringVar(&f.opts.ModelDir, "model", "", "Hugging Face T5 checkpoint `dir` or model id in the offline Hugging Face cache: its shape and weights instead of --shape")
	fs.StringVar(&f.opts.Backend, "backend", "", "compute backend (default: $COMPACTER_BACKEND, else the best available; see compacter backends)")
	fs.IntVar(&f.opts.Batch, "batch", bench.DefaultBatch, "sequences per step")
	fs.IntVar(&f.opts.Seq, "seq", bench.DefaultSeq, "encoder and decoder length of the batches (with --task: the longest input kept)")
	fs.IntVar(&f.opts.SourceLen, "source-len", 0, "encoder length of the built-in batches (default --seq; with --task: the longest input kept)")
	fs.IntVar(&f.opts.TargetLen, "target-len", 0, "decoder length of the built-in batches (default --seq)")
	fs.IntVar(&f.opts.Threads, "threads", 0, "GOMAXPROCS during the run: the cpu backend's threads (default: all cores)")
	fs.Func("dropout", "dropout `rate` of every method's model (default: the shape's or checkpoint's, 0.1 for T5; the official code's step benchmark uses 0)", func(v string) error {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < 0 || x >= 1 {
			return fmt.Errorf("want a rate in [0, 1), got %q", v)
		}
		f.opts.Dropout = &x
		return nil
	})
	fs.Func("max-grad-norm", "clip the global gradient norm at `norm` (default 1, the paper's; 0: no clipping, as the official code's step benchmark times it; then each step updates every block during its backward and never holds all gradients, see t5.TrainConfig.SeparateUpdate)", func(v string) error {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x >= 0) || math.IsInf(x, 1) {
			return fmt.Errorf("want a norm ≥ 0, got %q", v)
		}
		f.opts.MaxGradNorm = &x
		return nil
	})
	fs.IntVar(&f.opts.Steps, "steps", bench.DefaultSteps, "timed steps per method (after one warm-up step)")
	fs.IntVar(&f.opts.EpochExamples, "epoch-examples", bench.DefaultEpochExamples, "examples in one epoch of the time column (with --task: default the task's training split)")
	methods := fs.String("methods", "all", "comma-separated methods to run, in this order (the Δ columns need full-finetune)")
	seed := fs.Uint64("seed", bench.DefaultSeed, "seed of the weights, the methods' tensors, dropout and the batches (> 0)")
	fs.StringVar(&f.format, "format", "text", "output: "+strings.Join(bench.Formats, ", "))
	fs.StringVar(&f.plot, "plot", "", "write the trade-off figure to `prefix`.svg and prefix.png")
	fs.StringVar(&f.out, "out", "", "write the table to `file` instead of standard output")
	fs.BoolVar(&f.progress, "progress", true, "show progress on standard error")
	fs.StringVar(&f.from, "from", "", "measure nothing: read a table written with --format json from `file` (to print it in another format or plot it)")
	fs.StringVar(&f.task.Name, "task", "", "GLUE task for the score column (cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte); needs --data")
	fs.StringVar(&f.task.DataDir, "data", "", "GLUE data `dir` (dir/RTE/train.tsv, …) of --task")
	fs.StringVar(&f.task.Tokenizer, "spm", "", "SentencePiece model `file` for --task (default: --model's spiece.model)")
	fs.IntVar(&f.task.TrainSamples, "train-samples", 0, "with --task: keep this many training examples (0: all)")
	fs.IntVar(&f.task.EvalSamples, "eval-samples", 0, "with --task: score on this many validation examples (0: all)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if (f.task.Name == "") != (f.task.DataDir == "") {
		return f, errors.New("bench: --task and --data go together")
	}
	if f.task.Name == "" && (f.task.Tokenizer != "" || f.task.TrainSamples != 0 || f.task.EvalSamples != 0) {
		return f, errors.New("bench: --spm, --train-samples and --eval-samples need --task")
	}
	if f.task.TrainSamples < 0 || f.task.EvalSamples < 0 {
		return f, errors.New("bench: --train-samples and --eval-samples must not be negative")
	}
	if !slices.Contains(bench.Formats, f.format) {
		return f, fmt.Errorf("bench: --format %q: want one of %s", f.format, strings.Join(bench.Formats, ", "))
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"batch", f.opts.Batch}, {"seq", f.opts.Seq}, {"steps", f.opts.Steps}, {"epoch-examples", f.opts.EpochExamples},
		{"source-len", f.opts.SourceLen + 1}, {"target-len", f.opts.TargetLen + 1}, {"threads", f.opts.Threads + 1}} {
		if c.v <= 0 {
			return f, fmt.Errorf("bench: --%s %d must be positive", c.name, c.v)
		}
	}
	if *seed == 0 {
		return f, errors.New("bench: --seed must be positive")
	}
	f.opts.Seed = *seed
	var err error
	if f.opts.Methods, err = bench.ParseMethods(*methods); err != nil {
		return f, fmt.Errorf("bench: --methods: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.from != "" {
		for _, n := range []string{"shape", "model", "backend", "batch", "seq", "steps", "epoch-examples", "methods", "seed",
			"task", "data", "spm", "train-samples", "eval-samples", "source-len", "target-len", "threads", "dropout", "max-grad-norm"} {
			if set[n] {
				return f, fmt.Errorf("bench: --from reads a measured table: --%s does not apply", n)
			}
		}
	}
	if f.task.Name != "" && set["target-len"] {
		return f, errors.New("bench: --target-len does not apply with --task (targets are the task's, padded per batch)")
	}
	if f.task.Name != "" && !set["epoch-examples"] {
		f.opts.EpochExamples = 0 // the task's training split
	}
	shapeSet := set["shape"]
	if f.opts.ModelDir != "" {
		if shapeSet {
			return f, errors.New("bench: --shape and --model exclude each other")
		}
		f.opts.Shape = ""
		dir, err := t5.ResolveModel(f.opts.ModelDir)
		if err != nil {
			return f, fmt.Errorf("bench: --model: %w", err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return f, fmt.Errorf("bench: --model %q is not a checkpoint directory", f.opts.ModelDir)
		}
		f.opts.ModelDir = dir
	}
	return f, nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	var t *bench.Table
	if f.from != "" {
		if t, err = readTable(f.from); err != nil {
			return err
		}
	} else {
		if f.task.Name != "" {
			if f.opts, err = f.opts.WithTask(f.task); err != nil {
				return err
			}
		}
		rs, err := openRanks(0)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		f.opts.Collective = rs.c
		var prog func(bench.Event)
		if f.progress && rs.lead() {
			prog = newProgress(stderr).event
		}
		t, err = bench.Run(ctx, f.opts, prog)
		if err = rs.close(err, stderr); err != nil {
			if t != nil && len(t.Rows) > 0 && rs.lead() {
				fmt.Fprintf(stderr, "\nstopped; the %d rows measured so far:\n", len(t.Rows))
				t.Write(stderr, "text")
			}
			return err
		}
		if !rs.lead() {
			return nil // rank 0 writes the table
		}
	}
	if f.out != "" {
		if err := writeFileAtomic(f.out, func(w io.Writer) error { return t.Write(w, f.format) }); err != nil {
			return fmt.Errorf("bench: --out: %w", err)
		}
	} else if err := t.Write(stdout, f.format); err != nil {
		return err
	}
	if f.plot != "" {
		paths, err := t.SavePlot(f.plot)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", strings.Join(paths, ", "))
	}
	return nil
}

// readTable reads a JSON table file.
func readTable(path string) (*bench.Table, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: --from: %w", err)
	}
	defer fh.Close()
	t, err := bench.ReadJSON(fh)
	if err != nil {
		return nil, fmt.Errorf("bench: --from %s: %w", path, err)
	}
	return t, nil
}

// writeFileAtomic writes a file through a temporary file and a rename.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progress draws bench events on a writer: a bar redrawn in place on a
// terminal, plain lines otherwise.
type progress struct {
	w   io.Writer
	tty bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// clock formats a duration as m:ss (h:mm:ss from an hour).
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func (p *progress) event(e bench.Event) {
	what := ""
	switch e.Phase {
	case "setup":
		what = "setting up"
	case "step":
		if e.Step == 0 {
			what = fmt.Sprintf("warm-up step, loss %.3f", e.Loss)
		} else {
			what = fmt.Sprintf("step %d/%d, loss %.3f", e.Step, e.Steps, e.Loss)
		}
	case "score":
		what = "scored"
	case "done":
		r := e.Row
		what = fmt.Sprintf("done: %.3f s/step, %.0f MiB, loss %.4f", r.SecPerStep, r.MemoryMiB, r.FinalLoss)
		if !math.IsNaN(r.Score) {
			what += fmt.Sprintf(", score %.2f", r.Score)
		}
	}
	eta := "?"
	if e.Done > 0 {
		eta = clock(e.ETA)
	}
	line := fmt.Sprintf("%d/%d %s: %s  [elapsed %s, ETA %s]", e.Index, e.Methods, bench.Name(e.Method), what,
		clock(e.Elapsed), eta)
	if !p.tty {
		fmt.Fprintln(p.w, "bench "+line)
		return
	}
	const width = 16
	n := min(width, int(e.Done*width))
	bar := strings.Repeat("█", n) + strings.Repeat("░", width-n)
	if e.Phase == "done" {
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", line)
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s %3.0f%% %s", bar, 100*e.Done, line)
}
