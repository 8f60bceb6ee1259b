package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/bench/sweep"
	"github.com/compacter-go/compacter/peft"
)

func init() {
	commands["sweep"] = command{"the low-resource experiment: score vs. training-set size per method",
		func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return runSweep(ctx, args, stdout, stderr)
		}}
}

const sweepHelp = `Usage: compacter sweep --model DIR --data DIR --tasks LIST --out DIR [flags]

Runs the low-resource experiment of the Compacter paper: each task's
training split cut to each of --sizes examples, each of --methods fine-tuned
on each cut with --seeds seeds, with the loop of "compacter train" (the same
splits, defaults, evaluation and test scoring), and the test score tabulated
and plotted against the training-set size.

The grid: every task × method × size × seed is a cell, run seed by seed (so
an interrupted sweep has whole grids of its first seeds), then task, size and
method. Seeds are --seed, --seed+1, … (--seeds of them).

Subsamples: for a task and a seed, one permutation of the training split is
drawn from the seed alone (glue.Task.Load's PCG shuffle, the official
code's n_obs); size n is its first n examples, so the sets are nested (the
500-example set contains the 100). Each cell's result.json records the seed,
the generator, train.tsv's sha256, the train.tsv line of every example in
order and the examples' sha256. The seed also seeds the validation/test
halves of dev.tsv (small tasks), the initialisation, the data order and
dropout, as in "compacter train --seed". A size larger than a task's
training split is an error; --clamp runs it on the whole split instead (the
official code's behaviour), once, noted in the table.

Resuming: --out/cells/<task>/<method>/n<size>/s<seed>/result.json is
written (temporary file + rename) when a cell finishes, and a cell with one
is never run again: rerun the same command after a crash or Ctrl-C and only
the missing cells run (the interrupted one continues from its checkpoint;
--save-every bounds what it loses). Adding sizes, seeds, tasks or methods
reuses the cells already run. A stored result with other settings (learning
rate, epochs, batch, PEFT options, eval samples, another train.tsv) is an
error: use another --out. A cell whose loss becomes NaN or infinite is
recorded as failed (a † in the table) and not rerun.

Outputs in --out: sweep.json (the grid), cells/ (result.json and
finetune's report.json/report.md per cell; the checkpoint and best adapter
are deleted once the result is stored, unless --keep-weights), table.json,
table.md and table.csv (mean ± sample standard deviation of the test score
over the seeds per task, method and size; rewritten after every cell) and
figure-<task>.svg/.png (score vs. size, log scale, one line per method with
±std error bars). The Markdown table is also printed at the end.

Hyper-parameters are those of "compacter train" (each method's learning
rate, batch 100, 500 warm-up steps, 20 epochs on small tasks, 3 on large
ones, max length 128); the flags below override them for every cell.
With the default batch and warm-up a 100-example cell takes 1 step an epoch
and never leaves the warm-up: consider --steps (the same number of updates
at every size) and --warmup.

Flags:
`

func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, sweepHelp)
		fs.PrintDefaults()
	}
	methods := make([]string, len(peft.Methods))
	for i, m := range peft.Methods {
		methods[i] = string(m)
	}
	paper := make([]string, len(sweep.PaperMethods))
	for i, m := range sweep.PaperMethods {
		paper[i] = string(m)
	}
	sizes := make([]string, len(sweep.PaperSizes))
	for i, n := range sweep.PaperSizes {
		sizes[i] = strconv.Itoa(n)
	}
	var (
		model, data, out, backend, tasksF, methodsF, sizesF string
		seeds, rf, evalSamples, saveEvery, steps            int
		seed                                                uint64
		clamp, keep, progress, dry, reportOnly              bool
		lr                                                  float64
		epochs, batch, micro, warmup, maxLen                int
	)
	fs.StringVar(&model, "model", "", "T5 checkpoint directory (config.json, model.safetensors, spiece.model)")
	fs.StringVar(&data, "data", "", "GLUE data directory (DATA/<Task>/train.tsv, dev.tsv)")
	fs.StringVar(&out, "out", "", "output directory (cells, tables, figures); rerun with the same one to resume")
	fs.StringVar(&tasksF, "tasks", "", "comma-separated GLUE tasks: cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte")
	fs.StringVar(&methodsF, "methods", strings.Join(paper, ","), "comma-separated methods: "+strings.Join(methods, ", "))
	fs.StringVar(&sizesF, "sizes", strings.Join(sizes, ","), "comma-separated training-set sizes")
	fs.IntVar(&seeds, "seeds", 3, "number of seeds per cell")
	fs.Uint64Var(&seed, "seed", 42, "first seed (the seeds are seed, seed+1, …)")
	fs.BoolVar(&clamp, "clamp", false, "run sizes larger than a task's training split on the whole split (default: error)")
	fs.StringVar(&backend, "backend", "", "backend name (empty: $COMPACTER_BACKEND or the best available)")
	fs.Float64Var(&lr, "lr", 0, "peak learning rate of every method (default: each method's)")
	fs.IntVar(&epochs, "epochs", 0, "epochs of every cell (default: 20 for small tasks, 3 for large)")
	fs.IntVar(&steps, "steps", 0, "train every cell for about this many optimizer steps: epochs = ceil(steps / steps per epoch) (excludes --epochs)")
	fs.IntVar(&batch, "batch", 0, "examples per optimizer step (default 100)")
	fs.IntVar(&micro, "micro-batch", 0, "examples per forward/backward pass, accumulated up to --batch (default: the method's, at most --batch)")
	fs.IntVar(&warmup, "warmup", 0, "linear warm-up steps (default 500)")
	fs.IntVar(&maxLen, "max-len", 0, "maximum input tokens (default 128)")
	fs.IntVar(&rf, "reduction-factor", 0, "adapter bottleneck reduction factor (default: the method's, 32; the paper tuned 32, 16, 8)")
	fs.IntVar(&evalSamples, "eval-samples", 0, "score at most this many validation and test examples (0: all)")
	fs.IntVar(&saveEvery, "save-every", 0, "also checkpoint a cell every this many steps (0: after every epoch only)")
	fs.BoolVar(&keep, "keep-weights", false, "keep each finished cell's checkpoint and best adapter")
	fs.BoolVar(&dry, "dry-run", false, "list the cells and which are finished; run nothing")
	fs.BoolVar(&reportOnly, "report-only", false, "rewrite the tables and figures from the finished cells; run nothing")
	fs.BoolVar(&progress, "progress", true, "show progress on standard error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sweep: unexpected arguments %q", fs.Args())
	}
	if data == "" || out == "" || tasksF == "" || (model == "" && !dry && !reportOnly) {
		return errors.New("sweep: --model, --data, --tasks and --out are required")
	}
	if dry && reportOnly {
		return errors.New("sweep: --dry-run and --report-only exclude each other")
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	cfg := sweep.Config{ModelDir: model, Backend: backend, DataDir: data, OutDir: out, Tasks: splitList(tasksF),
		Clamp: clamp, Steps: steps, EvalSamples: evalSamples, SaveEvery: saveEvery, KeepWeights: keep}
	for _, m := range splitList(methodsF) {
		cfg.Methods = append(cfg.Methods, peft.Method(m))
	}
	for _, s := range splitList(sizesF) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("sweep: --sizes: %q is not a number", s)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	if seeds <= 0 {
		return fmt.Errorf("sweep: --seeds %d must be positive", seeds)
	}
	for i := range seeds {
		cfg.Seeds = append(cfg.Seeds, seed+uint64(i))
	}
	if set["lr"] {
		cfg.Hyper.LR = &lr
	}
	for _, c := range []struct {
		name string
		v    *int
		dst  **int
	}{{"epochs", &epochs, &cfg.Hyper.Epochs}, {"batch", &batch, &cfg.Hyper.Batch}, {"micro-batch", &micro, &cfg.Hyper.MicroBatch},
		{"warmup", &warmup, &cfg.Hyper.Warmup}, {"max-len", &maxLen, &cfg.Hyper.MaxLen}} {
		if set[c.name] {
			*c.dst = c.v
		}
	}
	if set["steps"] && set["epochs"] {
		return errors.New("sweep: --steps and --epochs exclude each other")
	}
	if set["reduction-factor"] {
		if rf <= 0 {
			return fmt.Errorf("sweep: --reduction-factor %d must be positive", rf)
		}
		cfg.PEFT = func(m peft.Method) (peft.Config, error) {
			c, err := peft.Default(m)
			c.ReductionFactor = rf
			return c, err
		}
	}
	if dry || reportOnly {
		sum, err := sweep.Collect(cfg)
		if err != nil {
			return err
		}
		if dry {
			return printPlan(stdout, sum)
		}
		files, err := sweep.WriteOutputs(out, sum)
		if err != nil {
			return err
		}
		if err := sum.Table.WriteMarkdown(stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(files, ", "))
		return nil
	}
	bar := &sweepBar{w: stderr, on: progress}
	sum, err := sweep.Run(ctx, cfg, bar.update)
	bar.end()
	if errors.Is(err, context.Canceled) && sum != nil {
		fmt.Fprintf(stderr, "interrupted: %d of %d cells finished; rerun the same command to continue\n",
			sum.Table.Finished, sum.Table.Cells)
		return nil
	}
	if err != nil {
		return err
	}
	if err := sum.Table.WriteMarkdown(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d cells: %d run, %d found finished, %d failed\nwrote %s\n", len(sum.Plan.Cells), sum.Ran, sum.Skipped,
		sum.Failed, strings.Join(sum.Files, ", "))
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// printPlan lists the cells of a sweep and their state.
func printPlan(w io.Writer, sum *sweep.Summary) error {
	for _, n := range sum.Plan.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for i, c := range sum.Plan.Cells {
		state := "to run"
		if r := sum.Results[i]; r != nil {
			state = r.Status
			if r.Test != nil {
				state += fmt.Sprintf(" (test %.2f)", r.Test.Score)
			}
		}
		fmt.Fprintf(w, "%-40s %s\n", filepath.ToSlash(c.Dir()), state)
	}
	_, err := fmt.Fprintf(w, "%d cells, %d finished (%d failed), %d to run\n", len(sum.Plan.Cells), sum.Skipped, sum.Failed,
		len(sum.Plan.Cells)-sum.Skipped)
	return err
}

// sweepBar draws a sweep's progress: a line per finished cell, and a
// status line redrawn in place while a cell trains.
type sweepBar struct {
	w       io.Writer
	on      bool
	drawn   bool
	last    time.Time
	skipped bool
}

func (b *sweepBar) update(p sweep.Progress) {
	if !b.on {
		return
	}
	eta := "ETA unknown"
	if p.ETAKnown {
		eta = "ETA " + p.ETA.Round(time.Second).String()
	}
	grid := fmt.Sprintf("done %d/%d, elapsed %s, %s", p.Done, p.Total, p.Elapsed.Round(time.Second), eta)
	switch p.Event {
	case sweep.EventSkip:
		return
	case sweep.EventStart:
		if !b.skipped && p.Skipped > 0 {
			b.clear()
			fmt.Fprintf(b.w, "%d of %d cells already finished\n", p.Skipped, p.Total)
		}
		b.skipped = true
		b.status(fmt.Sprintf("[%d/%d] %s: starting | %s", p.Index+1, p.Total, p.Cell, grid))
	case sweep.EventTrain:
		if time.Since(b.last) < 200*time.Millisecond {
			return
		}
		t := p.Train
		what := fmt.Sprintf("epoch %d/%d step %d/%d loss %.4f", t.Epoch, t.Epochs, t.Step, t.TotalSteps, t.Loss)
		switch t.Phase {
		case finetune.PhaseEval:
			what = fmt.Sprintf("epoch %d/%d: validation", t.Epoch, t.Epochs)
		case finetune.PhaseTest:
			what = "test"
		case finetune.PhaseEpoch:
			what = fmt.Sprintf("epoch %d/%d: validation score %.2f", t.Epoch, t.Epochs, t.Report.Validation.Score)
		}
		b.status(fmt.Sprintf("[%d/%d] %s %s | %s", p.Index+1, p.Total, p.Cell, what, grid))
	case sweep.EventDone, sweep.EventFailed:
		b.clear()
		r := p.Result
		if p.Event == sweep.EventFailed {
			fmt.Fprintf(b.w, "[%d/%d] %s: FAILED (%s) | %s\n", p.Index+1, p.Total, p.Cell, r.Error, grid)
			return
		}
		fmt.Fprintf(b.w, "[%d/%d] %s: test %.2f (validation %.2f), %d steps, %.1fs | %s\n", p.Index+1, p.Total, p.Cell,
			r.Test.Score, r.Validation, r.Steps, r.Seconds, grid)
	}
}

// status redraws the status line.
func (b *sweepBar) status(s string) {
	b.last = time.Now()
	fmt.Fprintf(b.w, "\r\x1b[K%s", s)
	b.drawn = true
}

// clear erases the status line.
func (b *sweepBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// end finishes a status line left open.
func (b *sweepBar) end() {
	if b.on && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
