package finetune

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/peft"
)

// EpochReport is one finished epoch.
type EpochReport struct {
	// Epoch counts from 1; Steps is the number of optimizer steps taken
	// by its end.
	Epoch int `json:"epoch"`
	Steps int `json:"steps"`
	// TrainLoss is the mean loss of its steps; LR the learning rate of its
	// last step.
	TrainLoss float64 `json:"train_loss"`
	LR        float64 `json:"lr"`
	// TrainSeconds and ExamplesPerSec time its training steps (not the
	// evaluation); EvalSeconds its evaluation.
	TrainSeconds   float64 `json:"train_seconds"`
	ExamplesPerSec float64 `json:"examples_per_sec"`
	EvalSeconds    float64 `json:"eval_seconds"`
	// Validation is the validation split's evaluation; Best marks the
	// epoch whose method was saved as the best so far.
	Validation glue.Result `json:"validation"`
	Best       bool        `json:"best"`
}

// Run statuses.
const (
	StatusRunning     = "running"
	StatusFinished    = "finished"
	StatusInterrupted = "interrupted"
	StatusMaxSteps    = "stopped at max steps"
)

// Report describes a run: its settings, every finished epoch and, at the
// end, the test split scored with the best epoch's method.
type Report struct {
	Task    string      `json:"task"`
	Method  peft.Method `json:"method"`
	Model   string      `json:"model"`
	Backend string      `json:"backend"`
	Seed    uint64      `json:"seed"`
	Hyper   Hyper       `json:"hyper"`
	PEFT    peft.Config `json:"peft"`
	// Example counts of the splits, and rows skipped as malformed.
	TrainExamples      int `json:"train_examples"`
	ValidationExamples int `json:"validation_examples"`
	TestExamples       int `json:"test_examples"`
	SkippedRows        int `json:"skipped_rows"`
	// TrainableParams and TotalParams count the method's parameters.
	TrainableParams int64 `json:"trainable_params"`
	TotalParams     int64 `json:"total_params"`
	StepsPerEpoch   int   `json:"steps_per_epoch"`
	TotalSteps      int   `json:"total_steps"`
	// Steps taken so far.
	Steps  int           `json:"steps"`
	Epochs []EpochReport `json:"epochs"`
	// BestEpoch is the epoch (from 1) with the best validation score, 0
	// before the first evaluation.
	BestEpoch int     `json:"best_epoch"`
	BestScore float64 `json:"best_score"`
	// Test is the test split's evaluation with the best method, nil until
	// the run finishes.
	Test   *glue.Result `json:"test,omitempty"`
	Status string       `json:"status"`
	// Ranks is the number of data-parallel processes (1: one process),
	// Collective their communication; GradientBytes the bytes of
	// gradients summed across ranks per step (4 per trainable parameter)
	// and ReduceSeconds the time the sums took so far (rank 0's).
	Ranks         int     `json:"ranks,omitempty"`
	Collective    string  `json:"collective,omitempty"`
	GradientBytes int64   `json:"gradient_bytes_per_step,omitempty"`
	ReduceSeconds float64 `json:"reduce_seconds,omitempty"`
	// Error is the error that ended the run, if any.
	Error string `json:"error,omitempty"`
}

// Markdown renders the report as a Markdown document.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s on %s\n\n", r.Method, strings.ToUpper(r.Task))
	fmt.Fprintf(&b, "| setting | value |\n|---|---|\n")
	rows := [][2]string{
		{"model", r.Model}, {"backend", r.Backend}, {"status", r.Status},
		{"trainable parameters", fmt.Sprintf("%d of %d (%s)", r.TrainableParams, r.TotalParams, pct(r.TrainableParams, r.TotalParams))},
		{"examples (train / validation / test)", fmt.Sprintf("%d / %d / %d", r.TrainExamples, r.ValidationExamples, r.TestExamples)},
		{"learning rate", fmt.Sprint(r.Hyper.LR)}, {"epochs", fmt.Sprint(r.Hyper.Epochs)},
		{"batch (micro-batch)", fmt.Sprintf("%d (%d)", r.Hyper.Batch, r.Hyper.MicroBatch)},
		{"warm-up steps", fmt.Sprint(r.Hyper.Warmup)}, {"max source length", fmt.Sprint(r.Hyper.MaxLen)},
		{"steps", fmt.Sprintf("%d of %d", r.Steps, r.TotalSteps)}, {"seed", fmt.Sprint(r.Seed)},
	}
	if r.Ranks > 1 {
		rows = append(rows, [2]string{"data-parallel ranks", fmt.Sprintf("%d, %s: %.3g MB of gradients a step, %.1f s summing them",
			r.Ranks, r.Collective, float64(r.GradientBytes)/1e6, r.ReduceSeconds)})
	}
	if r.SkippedRows > 0 {
		rows = append(rows, [2]string{"malformed rows skipped", fmt.Sprint(r.SkippedRows)})
	}
	if r.Error != "" {
		rows = append(rows, [2]string{"error", r.Error})
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], strings.ReplaceAll(row[1], "|", `\|`))
	}
	var metrics []string
	if t, err := glue.Lookup(r.Task); err == nil {
		metrics = t.Metrics
	}
	b.WriteString("\n## Epochs\n\nMetrics on the validation split, ×100.\n\n| epoch | steps | train loss | lr |")
	for _, m := range metrics {
		fmt.Fprintf(&b, " %s |", m)
	}
	b.WriteString(" score | invalid | train s | examples/s | eval s | best |\n|---|---|---|---|")
	b.WriteString(strings.Repeat("---|", len(metrics)+6) + "\n")
	for _, e := range r.Epochs {
		fmt.Fprintf(&b, "| %d | %d | %.4f | %.3g |", e.Epoch, e.Steps, e.TrainLoss, e.LR)
		for _, m := range metrics {
			fmt.Fprintf(&b, " %.2f |", e.Validation.Metrics[m])
		}
		best := ""
		if e.Best {
			best = "✓"
		}
		fmt.Fprintf(&b, " %.2f | %d | %.1f | %.1f | %.1f | %s |\n", e.Validation.Score, e.Validation.Invalid,
			e.TrainSeconds, e.ExamplesPerSec, e.EvalSeconds, best)
	}
	if r.Test != nil {
		fmt.Fprintf(&b, "\n## Test\n\nWith the best epoch's method (epoch %d):", r.BestEpoch)
		for _, m := range metrics {
			fmt.Fprintf(&b, " %s %.2f,", m, r.Test.Metrics[m])
		}
		fmt.Fprintf(&b, " score **%.2f** on %d examples (%d invalid predictions).\n", r.Test.Score, r.Test.N, r.Test.Invalid)
	}
	return b.String()
}

func pct(a, b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f %%", 100*float64(a)/float64(b))
}

// write stores report.json and report.md in dir, each atomically.
func (r *Report) write(dir string) error {
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, ReportJSON), func(tmp string) error {
		return os.WriteFile(tmp, append(j, '\n'), 0o644)
	}); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ReportMarkdown), func(tmp string) error {
		return os.WriteFile(tmp, []byte(r.Markdown()), 0o644)
	})
}
