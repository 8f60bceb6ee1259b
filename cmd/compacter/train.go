package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/peft"
)

func init() {
	commands["train"] = command{"fine-tune a T5 checkpoint on a GLUE task with one method",
		func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return runTrain(ctx, args, stdout, stderr)
		}}
}

const trainHelp = `Usage: compacter train --model DIR --task NAME --data DIR --out DIR [flags]

Fine-tunes a Hugging Face T5 checkpoint (DIR holds config.json,
model.safetensors and spiece.model) on a GLUE task with one method of the
Compacter paper, as the official Compacter code does: inputs such as
"rte sentence1: … sentence2: …", label words as targets, the official splits
(small tasks: half of dev.tsv as validation, half as test; large ones: 1000
training rows as validation, dev.tsv as test; MNLI: mismatched/matched),
evaluation after every epoch by greedy generation and the task's metric, and
the test split scored with the best epoch's method.

Tasks: cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte (--data is the folder in
GLUE's layout: DATA/RTE/train.tsv, …). Methods: ` + "%s" + `.

Defaults are the official configuration files' (learning rate per method,
batch 100, 500 warm-up steps, 20 epochs on small tasks and 3 on large ones,
max length 128); --lr, --epochs, --batch, --micro-batch and --warmup override
them. --out receives checkpoint.safetensors (resumable with --resume),
best/ (adapter_config.json + adapter_model.safetensors, loadable with
"compacter forward --peft"), report.json and report.md. Ctrl-C saves a
checkpoint and exits; a NaN or infinite loss stops with an error and leaves
the last checkpoint intact.

Under mpirun (Open MPI) the same command trains data-parallel: every rank
takes its share of each batch (the same global batch and learning-rate
schedule as one process; micro-batches of at most batch/ranks), the
gradients are summed every step, rank 0 alone writes --out (a folder every
rank can read: it resumes from it) and the ranks refuse to start when their
settings or data differ. A rank that dies or hangs stops the job within
--dist-timeout. SIGINT or SIGTERM to any rank (scancel sends SIGTERM to
all) makes every rank stop after the current step with a checkpoint. Ctrl-C
on mpirun itself tears the job down: Open MPI signals the ranks only
odls_base_sigkill_timeout seconds (default 1) before killing them, so
--resume continues from the last checkpoint (--save-every).

  mpirun -np 2 compacter train --model t5-base --task rte --data glue --out out

Flags:
`

// trainFlags are the command's flags.
type trainFlags struct {
	model, method, task, data, out, backend string
	lr                                      float64
	epochs, batch, micro, warmup, maxLen    int
	seed                                    uint64
	trainSamples, evalSamples               int
	saveEvery, maxSteps                     int
	resume, progress                        bool
	distTimeout                             time.Duration
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	methods := make([]string, len(peft.Methods))
	for i, m := range peft.Methods {
		methods[i] = string(m)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, trainHelp, strings.Join(methods, ", "))
		fs.PrintDefaults()
	}
	var f trainFlags
	fs.StringVar(&f.model, "model", "", "T5 checkpoint directory (config.json, weights, spiece.model) or model id in the offline Hugging Face cache")
	fs.StringVar(&f.method, "method", string(peft.Compacter), "method: "+strings.Join(methods, ", "))
	fs.StringVar(&f.task, "task", "", "GLUE task: cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte")
	fs.StringVar(&f.data, "data", "", "GLUE data directory (DATA/<Task>/train.tsv, dev.tsv)")
	fs.StringVar(&f.out, "out", "", "output directory (checkpoint, best adapter, reports)")
	fs.StringVar(&f.backend, "backend", "", "backend name (empty: $COMPACTER_BACKEND or the best available)")
	fs.Float64Var(&f.lr, "lr", 0, "peak learning rate (default: the method's)")
	fs.IntVar(&f.epochs, "epochs", 0, "epochs (default: 20 for small tasks, 3 for large)")
	fs.IntVar(&f.batch, "batch", 0, "examples per optimizer step (default 100)")
	fs.IntVar(&f.micro, "micro-batch", 0, "examples per forward/backward pass, accumulated up to --batch (default: the method's, at most --batch)")
	fs.IntVar(&f.warmup, "warmup", 0, "linear warm-up steps (default 500)")
	fs.IntVar(&f.maxLen, "max-len", 0, "maximum input tokens (default 128)")
	fs.Uint64Var(&f.seed, "seed", 42, "seed of the splits, data order, initialisation and dropout")
	fs.IntVar(&f.trainSamples, "train-samples", 0, "train on this many examples (low-resource runs: 100, 500, 1000, 2000, 4000)")
	fs.IntVar(&f.evalSamples, "eval-samples", 0, "score at most this many validation and test examples (0: all)")
	fs.IntVar(&f.saveEvery, "save-every", 0, "also checkpoint every this many steps (0: after every epoch only)")
	fs.IntVar(&f.maxSteps, "max-steps", 0, "stop with a checkpoint after this many steps in all (0: no limit)")
	fs.BoolVar(&f.resume, "resume", false, "continue from --out's checkpoint")
	fs.BoolVar(&f.progress, "progress", true, "show a progress bar on standard error")
	fs.DurationVar(&f.distTimeout, "dist-timeout", 0, "under mpirun: the longest wait for the other ranks in a collective (0: $COMPACTER_DIST_TIMEOUT, else 10m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("train: unexpected arguments %q", fs.Args())
	}
	if f.model == "" || f.task == "" || f.data == "" || f.out == "" {
		return errors.New("train: --model, --task, --data and --out are required")
	}
	task, err := glue.Lookup(f.task)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	method := peft.Method(f.method)
	h, err := finetune.Defaults(method, task)
	if err != nil {
		return fmt.Errorf("train: %w (methods: %s)", err, strings.Join(methods, ", "))
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, c := range []struct {
		name string
		v    int
		dst  *int
	}{{"epochs", f.epochs, &h.Epochs}, {"batch", f.batch, &h.Batch}, {"micro-batch", f.micro, &h.MicroBatch},
		{"warmup", f.warmup, &h.Warmup}, {"max-len", f.maxLen, &h.MaxLen}} {
		if set[c.name] {
			*c.dst = c.v
		}
	}
	if set["lr"] {
		h.LR = f.lr
	}
	if set["batch"] && !set["micro-batch"] {
		h.MicroBatch = min(h.MicroBatch, h.Batch)
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"train-samples", f.trainSamples}, {"eval-samples", f.evalSamples}, {"save-every", f.saveEvery}, {"max-steps", f.maxSteps}} {
		if c.v < 0 {
			return fmt.Errorf("train: --%s %d must not be negative", c.name, c.v)
		}
	}
	cfg := finetune.Config{ModelDir: f.model, Backend: f.backend, Method: method, Task: task.Name, DataDir: f.data,
		OutDir: f.out, Hyper: &h, Seed: f.seed, TrainSamples: f.trainSamples, EvalSamples: f.evalSamples,
		Resume: f.resume, SaveEvery: f.saveEvery, MaxSteps: f.maxSteps}
	rs, err := openRanks(f.distTimeout)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	stdout = rs.out(stdout)
	cfg.Collective = rs.c
	if rs.c.Size() > 1 {
		// A scheduler (Slurm's scancel, mpirun tearing down the job)
		// stops ranks with SIGTERM: stop after the step, on every rank.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGTERM)
		defer stop()
	}
	bar := &trainBar{w: stderr, on: f.progress && rs.lead()}
	rep, err := finetune.Run(ctx, cfg, bar.update)
	bar.end()
	// An interrupted run stopped on every rank after the same step (and
	// saved): the job ends normally; any other error aborts it.
	if errors.Is(err, context.Canceled) && rep != nil {
		if cerr := rs.close(nil, stderr); cerr != nil {
			return fmt.Errorf("train: %w", cerr)
		}
	} else if err != nil {
		err = rs.close(err, stderr)
	} else if err = rs.close(nil, stderr); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if errors.Is(err, context.Canceled) && rep != nil {
		if rs.lead() {
			fmt.Fprintf(stderr, "interrupted after step %d: checkpoint saved in %s; continue with --resume\n", rep.Steps, f.out)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stdout, "%s on %s: %d steps, %s\n", rep.Method, rep.Task, rep.Steps, rep.Status)
	if rep.BestEpoch > 0 {
		fmt.Fprintf(stdout, "best epoch %d: validation score %.2f\n", rep.BestEpoch, rep.BestScore)
	}
	if rep.Test != nil {
		fmt.Fprintf(stdout, "test (best epoch's method): %s\n", formatResult(task, *rep.Test))
	}
	fmt.Fprintf(stdout, "wrote %s, %s, %s and %s/\n", filepath.Join(f.out, finetune.ReportJSON), filepath.Join(f.out, finetune.ReportMarkdown),
		filepath.Join(f.out, finetune.CheckpointFile), filepath.Join(f.out, finetune.BestDir))
	return nil
}

// formatResult lists a result's metrics (×100) and score.
func formatResult(task *glue.Task, r glue.Result) string {
	var parts []string
	for _, m := range task.Metrics {
		parts = append(parts, fmt.Sprintf("%s %.2f", m, r.Metrics[m]))
	}
	return fmt.Sprintf("%s, score %.2f (%d examples, %d invalid predictions)", strings.Join(parts, ", "), r.Score, r.N, r.Invalid)
}

// trainBar draws the training progress on a writer: a bar redrawn in place
// during an epoch, and one line per finished epoch.
type trainBar struct {
	w     io.Writer
	on    bool
	drawn bool
	last  time.Time
}

func (b *trainBar) update(p finetune.Progress) {
	if !b.on {
		return
	}
	switch p.Phase {
	case finetune.PhaseTrain:
		if time.Since(b.last) < 100*time.Millisecond && p.Step != p.TotalSteps {
			return
		}
		b.last = time.Now()
		const width = 24
		frac := float64(p.Step) / float64(max(1, p.TotalSteps))
		n := int(frac * width)
		bar := "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
		fmt.Fprintf(b.w, "\r\x1b[Kepoch %d/%d %s %3.0f%% step %d/%d loss %.4f (epoch %.4f) lr %.2g %.1f ex/s ETA %s",
			p.Epoch, p.Epochs, bar, 100*frac, p.Step, p.TotalSteps, p.Loss, p.EpochLoss, p.LR, p.ExamplesPerSec,
			p.ETA.Round(time.Second))
		b.drawn = true
	case finetune.PhaseEval, finetune.PhaseTest:
		what := "validation"
		if p.Phase == finetune.PhaseTest {
			what = "test"
		}
		fmt.Fprintf(b.w, "\r\x1b[Kepoch %d/%d: evaluating on the %s split…", p.Epoch, p.Epochs, what)
		b.drawn = true
	case finetune.PhaseEpoch:
		e := p.Report
		best := ""
		if e.Best {
			best = " (best so far, saved)"
		}
		fmt.Fprintf(b.w, "\r\x1b[Kepoch %d/%d: train loss %.4f, validation score %.2f, %.1f ex/s%s\n",
			e.Epoch, p.Epochs, e.TrainLoss, e.Validation.Score, e.ExamplesPerSec, best)
		b.drawn = false
	}
}

// end finishes a bar line left open.
func (b *trainBar) end() {
	if b.on && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
