package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/peft"
)

// Names in OutDir and in a cell's folder.
const (
	ResultFile = "result.json"
	PlanFile   = "sweep.json"
)

// Cell result statuses.
const (
	StatusFinished = "finished"
	// StatusFailed marks a cell whose loss or gradient became NaN or
	// infinite (finetune.ErrNonFinite).
	StatusFailed = "failed"
)

// Settings are what a cell's result depends on besides the cell itself;
// a stored result with other settings is not reused.
type Settings struct {
	Hyper       finetune.Hyper `json:"hyper"`
	PEFT        peft.Config    `json:"peft"`
	EvalSamples int            `json:"eval_samples"`
	TrainSHA256 string         `json:"train_sha256"`
}

// Result is a finished cell, stored as its result.json.
type Result struct {
	Cell   Cell   `json:"cell"`
	Status string `json:"status"`
	// Error is the error of a failed cell.
	Error string `json:"error,omitempty"`
	// Test is the test split's evaluation with the best epoch's method;
	// Validation the best validation score, at BestEpoch.
	Test       *glue.Result `json:"test,omitempty"`
	Validation float64      `json:"validation_score"`
	BestEpoch  int          `json:"best_epoch"`
	Steps      int          `json:"steps"`
	// TrainableParams and TotalParams count the method's parameters.
	TrainableParams int64     `json:"trainable_params"`
	TotalParams     int64     `json:"total_params"`
	Model           string    `json:"model"`
	Backend         string    `json:"backend"`
	Settings        Settings  `json:"settings"`
	Subsample       Subsample `json:"subsample"`
	// Seconds is the wall time of the run that finished the cell; Resumed
	// says it continued an interrupted one (so Seconds is only a part).
	Seconds  float64   `json:"seconds"`
	Resumed  bool      `json:"resumed"`
	Finished time.Time `json:"finished"`
}

// Progress events.
const (
	// EventSkip: the cell's result was found in OutDir.
	EventSkip = "skip"
	// EventStart: the cell starts (or resumes from its checkpoint).
	EventStart = "start"
	// EventTrain: finetune reported progress (Train is set).
	EventTrain = "train"
	// EventDone: the cell finished (Result is set).
	EventDone = "done"
	// EventFailed: the cell's loss became non-finite (Result is set).
	EventFailed = "failed"
)

// Progress reports the sweep's state.
type Progress struct {
	Event string
	// Cell is the cell concerned, Index its position in the plan.
	Cell  Cell
	Index int
	// Done counts the finished cells (found or run, failed included) of
	// Total; Ran those run by this call, Skipped those found.
	Done, Total, Ran, Skipped int
	// Elapsed is the time since Run started; ETA the estimated time of the
	// remaining cells from the finished cells' times (0 while there are
	// none: ETAKnown is false).
	Elapsed  time.Duration
	ETA      time.Duration
	ETAKnown bool
	// Train is finetune's progress within the cell (EventTrain).
	Train *finetune.Progress
	// Result is the cell's result (EventSkip, EventDone, EventFailed).
	Result *Result
}

// Summary is what Run did.
type Summary struct {
	Plan *Plan
	// Results holds the result of every cell of the plan in order, nil
	// for a cell not finished.
	Results []*Result
	// Ran counts the cells run by this call, Skipped those found finished,
	// Failed the failed ones among both.
	Ran, Skipped, Failed int
	// Table aggregates the results; Files lists the outputs written.
	Table *Table
	Files []string
}

// Run runs every cell of the grid that has no result yet, in the plan's
// order, and writes the tables after every cell and the figures at the
// end (also when it stops early). When ctx is cancelled it returns the
// summary so far with an error wrapping ctx.Err(); the cell in progress
// keeps finetune's checkpoint and resumes on the next Run. progress, if
// not nil, is called for every event.
func Run(ctx context.Context, cfg Config, progress func(Progress)) (sum *Summary, err error) {
	var settings func(Cell) Settings
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	plan, err := NewPlan(cfg)
	if err != nil {
		return nil, err
	}
	sum, settings, err = collect(cfg, plan)
	if err != nil {
		return nil, err
	}
	pj, err := json.MarshalIndent(struct {
		Config  Config    `json:"config"`
		Cells   []Cell    `json:"cells"`
		Rows    any       `json:"train_rows"`
		Notes   []string  `json:"notes,omitempty"`
		Started time.Time `json:"started"`
	}{cfg, plan.Cells, plan.TrainRows, plan.Notes, start.UTC()}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if err := writeAtomic(filepath.Join(cfg.OutDir, PlanFile), append(pj, '\n')); err != nil {
		return nil, err
	}
	defer func() {
		files, werr := writeOutputs(cfg.OutDir, sum, true)
		sum.Files = files
		if err == nil && werr != nil {
			err = werr
		}
	}()
	eta := func(current int, inCell time.Duration) (time.Duration, bool) {
		var ts []timing
		for _, r := range sum.Results {
			if r != nil && !r.Resumed && r.Seconds > 0 {
				ts = append(ts, timing{r.Cell.Method, work(r.Cell.Size, r.Settings.Hyper), r.Seconds})
			}
		}
		total, ok := 0.0, len(ts) > 0
		for i, c := range plan.Cells {
			if sum.Results[i] != nil {
				continue
			}
			s, _ := estimate(ts, c.Method, work(c.Size, c.hyper))
			if i == current {
				s = max(0, s-inCell.Seconds())
			}
			total += s
		}
		return time.Duration(total * float64(time.Second)), ok
	}
	report := func(ev string, i int, inCell time.Duration, tp *finetune.Progress, r *Result) {
		done := 0
		for _, r := range sum.Results {
			if r != nil {
				done++
			}
		}
		e, ok := eta(i, inCell)
		progress(Progress{Event: ev, Cell: plan.Cells[i], Index: i, Done: done, Total: len(plan.Cells), Ran: sum.Ran,
			Skipped: sum.Skipped, Elapsed: time.Since(start), ETA: e, ETAKnown: ok, Train: tp, Result: r})
	}
	for i, c := range plan.Cells {
		if r := sum.Results[i]; r != nil {
			if !cfg.KeepWeights {
				if err := prune(filepath.Join(cfg.OutDir, c.Dir())); err != nil {
					return sum, err
				}
			}
			report(EventSkip, i, 0, nil, r)
			continue
		}
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("sweep: interrupted before %s: %w", c, err)
		}
		t0 := time.Now()
		report(EventStart, i, 0, nil, nil)
		r, err := runCell(ctx, cfg, c, settings(c), plan.TrainRows[c.Task], func(p finetune.Progress) { report(EventTrain, i, time.Since(t0), &p, nil) })
		if err != nil {
			return sum, err
		}
		sum.Results[i] = r
		sum.Ran++
		ev := EventDone
		if r.Status == StatusFailed {
			sum.Failed++
			ev = EventFailed
		}
		if _, err := writeOutputs(cfg.OutDir, sum, false); err != nil {
			return sum, err
		}
		report(ev, i, 0, nil, r)
	}
	return sum, nil
}

// Collect reads the stored results of the grid's cells without running
// anything: the summary's Results hold the finished cells (Skipped counts
// them) and its Table their aggregate; nothing is written.
func Collect(cfg Config) (*Summary, error) {
	plan, err := NewPlan(cfg)
	if err != nil {
		return nil, err
	}
	sum, _, err := collect(cfg, plan)
	if err != nil {
		return nil, err
	}
	sum.Table = Aggregate(plan, sum.Results)
	return sum, nil
}

// WriteOutputs writes a summary's tables and figures into dir and
// returns their paths (Run does so itself).
func WriteOutputs(dir string, sum *Summary) ([]string, error) {
	files, err := writeOutputs(dir, sum, true)
	sum.Files = files
	return files, err
}

// collect reads the stored results of a plan's cells, and returns the
// settings each cell must match.
func collect(cfg Config, plan *Plan) (*Summary, func(Cell) Settings, error) {
	hashes := map[string]string{}
	for _, c := range plan.Cells {
		if _, ok := hashes[c.Task]; !ok {
			h, err := fileSHA256(c.trainFile)
			if err != nil {
				return nil, nil, err
			}
			hashes[c.Task] = h
		}
	}
	settings := func(c Cell) Settings {
		return Settings{Hyper: c.hyper, PEFT: c.pc, EvalSamples: cfg.EvalSamples, TrainSHA256: hashes[c.Task]}
	}
	sum := &Summary{Plan: plan, Results: make([]*Result, len(plan.Cells))}
	for i, c := range plan.Cells {
		r, err := readResult(cfg.OutDir, c, settings(c))
		if err != nil {
			return nil, nil, err
		}
		if r != nil {
			sum.Results[i] = r
			sum.Skipped++
			if r.Status == StatusFailed {
				sum.Failed++
			}
		}
	}
	return sum, settings, nil
}

// work is the number of training examples a cell processes.
func work(n int, h finetune.Hyper) float64 { return float64(n) * float64(max(1, h.Epochs)) }

// runCell trains one cell (resuming its checkpoint if there is one) and
// stores its result; rows is the size of the task's training split.
func runCell(ctx context.Context, cfg Config, c Cell, st Settings, rows int, progress func(finetune.Progress)) (*Result, error) {
	dir := filepath.Join(cfg.OutDir, c.Dir())
	_, serr := os.Stat(filepath.Join(dir, finetune.CheckpointFile))
	resume := serr == nil
	sub, _, err := drawSubsample(c.task, cfg.DataDir, c.Seed, c.Size, rows, st.TrainSHA256)
	if err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", c, err)
	}
	h, pc := c.hyper, c.pc
	t0 := time.Now()
	rep, err := finetune.Run(ctx, finetune.Config{ModelDir: cfg.ModelDir, Backend: cfg.Backend, Method: c.Method, PEFT: &pc,
		Task: c.Task, DataDir: cfg.DataDir, OutDir: dir, Hyper: &h, Seed: c.Seed, TrainSamples: c.Size,
		EvalSamples: cfg.EvalSamples, Resume: resume, SaveEvery: cfg.SaveEvery}, progress)
	r := &Result{Cell: c, Settings: st, Subsample: *sub, Seconds: time.Since(t0).Seconds(), Resumed: resume, Model: cfg.ModelDir}
	switch {
	case errors.Is(err, finetune.ErrNonFinite):
		r.Status, r.Error = StatusFailed, err.Error()
	case err != nil:
		return nil, fmt.Errorf("sweep: %s: %w", c, err)
	case rep.Status != finetune.StatusFinished || rep.Test == nil:
		return nil, fmt.Errorf("sweep: %s: finetune ended with status %q and no test score", c, rep.Status)
	case rep.TrainExamples != c.Size:
		return nil, fmt.Errorf("sweep: %s: finetune trained on %d examples, not %d", c, rep.TrainExamples, c.Size)
	default:
		r.Status, r.Test = StatusFinished, rep.Test
	}
	if rep != nil {
		r.Validation, r.BestEpoch, r.Steps = rep.BestScore, rep.BestEpoch, rep.Steps
		r.TrainableParams, r.TotalParams, r.Backend = rep.TrainableParams, rep.TotalParams, rep.Backend
	}
	r.Finished = time.Now().UTC()
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, ResultFile), append(j, '\n')); err != nil {
		return nil, err
	}
	if !cfg.KeepWeights {
		if err := prune(dir); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readResult reads a cell's stored result: nil if there is none, an
// error if it is unreadable or was computed with other settings.
func readResult(out string, c Cell, st Settings) (*Result, error) {
	path := filepath.Join(out, c.Dir(), ResultFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w (delete it to rerun the cell)", path, err)
	}
	if r.Cell.Task != c.Task || r.Cell.Method != c.Method || r.Cell.Size != c.Size || r.Cell.Seed != c.Seed {
		return nil, fmt.Errorf("sweep: %s holds the result of %s, not %s", path, r.Cell, c)
	}
	want, _ := json.Marshal(st)
	got, _ := json.Marshal(r.Settings)
	if string(want) != string(got) {
		return nil, fmt.Errorf("sweep: %s was computed with other settings (%s), not %s: choose another output folder or delete the cell",
			path, got, want)
	}
	r.Cell.Requested = c.Requested
	return &r, nil
}

// prune deletes a finished cell's checkpoint and best adapter.
func prune(dir string) error {
	for _, p := range []string{finetune.CheckpointFile, finetune.BestDir} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
	}
	return nil
}

// writeAtomic writes data to path through a synced temporary file in the
// same folder and a rename, so that path always holds a whole version.
func writeAtomic(path string, data []byte) (err error) {
	return writeAtomicFunc(path, func(f *os.File) error { _, err := f.Write(data); return err })
}

// writeAtomicFunc is writeAtomic with the contents written by write.
func writeAtomicFunc(path string, write func(*os.File) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("sweep: %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sweep: %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("sweep: %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync() // best effort: the rename reaches the disk
		d.Close()
	}
	return nil
}
