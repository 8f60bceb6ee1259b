package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/compacter-go/compacter/peft"
)

// Formats are the output formats of Table.Write.
var Formats = []string{"text", "markdown", "json", "csv"}

// Write prints the table in a format: "text" (aligned columns with a
// header saying what was measured), "markdown", "json" (one object, Δ and
// score null where absent) or "csv" (a header row, empty cells where
// absent).
func (t *Table) Write(w io.Writer, format string) error {
	switch format {
	case "text", "":
		return t.writeText(w)
	case "markdown":
		return t.writeMarkdown(w)
	case "json":
		return t.writeJSON(w)
	case "csv":
		return t.writeCSV(w)
	}
	return fmt.Errorf("%w: format %q (want %s)", ErrOptions, format, strings.Join(Formats, ", "))
}

// Summary is one line saying what the table measured.
func (t *Table) Summary() string {
	weights := "random weights"
	if t.Pretrained {
		weights = "checkpoint weights"
	}
	steps := "steps"
	if t.Steps == 1 {
		steps = "step"
	}
	shape := fmt.Sprintf("%d × %d tokens", t.Batch, t.Seq)
	switch {
	case t.SourceLen > 0 && (t.SourceLen != t.Seq || t.TargetLen != t.Seq):
		shape = fmt.Sprintf("%d × %d source, %d target tokens", t.Batch, t.SourceLen, t.TargetLen)
	case t.SourceLen == 0 && t.TargetLen == 0 && t.Threads > 0:
		// A task's stream: real lengths, padded per batch.
		shape = fmt.Sprintf("%d examples of the task (inputs ≤ %d tokens, padded per batch)", t.Batch, t.Seq)
	}
	extra := ""
	if t.Threads > 0 {
		extra = fmt.Sprintf(", %d threads, dropout %g, gradient clipping %s", t.Threads, t.Dropout, clipText(t.MaxGradNorm))
	}
	return fmt.Sprintf("%s (%s params, %s), backend %s, batch %s, %d timed %s per method after 1 warm-up (time: median), epoch = %d examples, seed %d%s",
		t.Shape, thousands(t.BaseParams), weights, t.Backend, shape, t.Steps, steps, t.EpochExamples, t.Seed, extra)
}

// ScoreNote says what the score column means.
func (t *Table) ScoreNote() string {
	if t.ScoreName != "final loss" {
		if !t.Pretrained {
			return "score: " + t.ScoreName + " after the timed steps, from random weights (no checkpoint: not comparable to the paper's scores)"
		}
		return "score: " + t.ScoreName + " after the timed steps (the paper's scores need its full training runs: compacter train)"
	}
	if t.Pretrained {
		return "score: final loss = mean training loss of the last steps on the built-in stream (no task given: not a GLUE score)"
	}
	return "score: final loss = mean training loss of the last steps on random tokens from random weights (no checkpoint: not comparable to the paper's scores)"
}

// header are the column names of the text and markdown tables.
func (t *Table) header() []string {
	return []string{"method", "trained params", "% params", "memory MiB", "Δ memory", "s/step", "ex/s",
		"epoch s", "Δ time", t.ScoreName}
}

// cells formats a row for the text and markdown tables.
func (t *Table) cells(r Row) []string {
	return []string{r.Name, thousands(r.Trainable), fmt.Sprintf("%.3f", r.Percent), fmt.Sprintf("%.1f", r.MemoryMiB),
		pct(r.MemoryDelta), fmt.Sprintf("%.3f", r.SecPerStep), fmt.Sprintf("%.2f", r.ExamplesPerSec),
		fmt.Sprintf("%.1f", r.EpochSeconds), pct(r.TimeDelta),
		fmt.Sprintf("%.4f", r.Value())}
}

// notes are the rows' adaptation notes.
func (t *Table) notes() []string {
	var out []string
	for _, r := range t.Rows {
		if r.Note != "" {
			out = append(out, r.Name+": "+r.Note)
		}
	}
	if t.Ranks > 1 {
		out = append(out, fmt.Sprintf("data-parallel over %d ranks (%s): s/step includes the gradient all-reduce", t.Ranks, t.Collective))
		for _, r := range t.Rows {
			out = append(out, fmt.Sprintf("%s: all-reduce of %.3g MB, %.2f ms of the %.2f ms step", r.Name,
				float64(r.GradientBytes)/1e6, 1e3*r.ReduceSecPerStep, 1e3*r.SecPerStep))
		}
	}
	return out
}

func (t *Table) writeText(w io.Writer) error {
	fmt.Fprintf(w, "%s\n%s\n\n", t.Summary(), t.ScoreNote())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.header(), "\t")+"\t")
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(t.cells(r), "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := t.notes(); len(n) > 0 {
		fmt.Fprintf(w, "\nadapted to the shape:\n  %s\n", strings.Join(n, "\n  "))
	}
	_, err := fmt.Fprintf(w, "\nwall time %s\n", t.Elapsed.Round(100_000_000))
	return err
}

func (t *Table) writeMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "%s.\n%s.\n\n", t.Summary(), t.ScoreNote())
	h := t.header()
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(h, " | "), strings.Repeat("---|", len(h)))
	for _, r := range t.Rows {
		c := t.cells(r)
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
	}
	if n := t.notes(); len(n) > 0 {
		fmt.Fprintf(w, "\nAdapted to the shape:\n\n- %s\n", strings.Join(n, "\n- "))
	}
	return nil
}

// jsonTable and jsonRow are the JSON layout: absent and non-finite values
// are null.
type jsonTable struct {
	Shape         string    `json:"shape"`
	Pretrained    bool      `json:"pretrained"`
	BaseParams    int64     `json:"base_params"`
	Backend       string    `json:"backend"`
	Batch         int       `json:"batch"`
	Seq           int       `json:"seq"`
	SourceLen     int       `json:"source_len,omitempty"`
	TargetLen     int       `json:"target_len,omitempty"`
	Threads       int       `json:"threads,omitempty"`
	Dropout       *float64  `json:"dropout,omitempty"`
	MaxGradNorm   *float64  `json:"max_grad_norm,omitempty"`
	Steps         int       `json:"steps"`
	EpochExamples int       `json:"epoch_examples"`
	Seed          uint64    `json:"seed"`
	ScoreName     string    `json:"score_name"`
	ScoreNote     string    `json:"score_note"`
	ElapsedSec    float64   `json:"elapsed_s"`
	Ranks         int       `json:"ranks,omitempty"`
	Collective    string    `json:"collective,omitempty"`
	Rows          []jsonRow `json:"rows"`
}

type jsonRow struct {
	Method       string     `json:"method"`
	Name         string     `json:"name"`
	Trainable    int64      `json:"trainable"`
	Total        int64      `json:"total"`
	Percent      float64    `json:"percent"`
	PeakBytes    int64      `json:"peak_bytes"`
	MemoryMiB    float64    `json:"memory_mib"`
	MemoryDelta  *float64   `json:"memory_delta_pct"`
	SecPerStep   float64    `json:"sec_per_step"`
	ExamplesPerS float64    `json:"examples_per_s,omitempty"`
	EpochSeconds float64    `json:"epoch_s"`
	TimeDelta    *float64   `json:"time_delta_pct"`
	Losses       []*float64 `json:"losses"`
	FinalLoss    *float64   `json:"final_loss"`
	Score        *float64   `json:"score"`
	Note         string     `json:"note,omitempty"`
	// Data-parallel runs only.
	GradientBytes    int64   `json:"gradient_bytes,omitempty"`
	ReduceSecPerStep float64 `json:"reduce_sec_per_step,omitempty"`
}

func (t *Table) writeJSON(w io.Writer) error {
	jt := jsonTable{Shape: t.Shape, Pretrained: t.Pretrained, BaseParams: t.BaseParams, Backend: t.Backend,
		Batch: t.Batch, Seq: t.Seq, Steps: t.Steps, EpochExamples: t.EpochExamples, Seed: t.Seed,
		SourceLen: t.SourceLen, TargetLen: t.TargetLen, Threads: t.Threads, Dropout: &t.Dropout,
		MaxGradNorm: &t.MaxGradNorm, ScoreName: t.ScoreName, ScoreNote: t.ScoreNote(), ElapsedSec: t.Elapsed.Seconds(), Rows: []jsonRow{},
		Ranks: t.Ranks, Collective: t.Collective}
	for _, r := range t.Rows {
		jr := jsonRow{Method: string(r.Method), Name: r.Name, Trainable: r.Trainable, Total: r.Total,
			Percent: r.Percent, PeakBytes: r.PeakBytes, MemoryMiB: r.MemoryMiB, MemoryDelta: finite(r.MemoryDelta),
			SecPerStep: r.SecPerStep, ExamplesPerS: r.ExamplesPerSec, EpochSeconds: r.EpochSeconds, TimeDelta: finite(r.TimeDelta),
			FinalLoss: finite(r.FinalLoss), Score: finite(r.Score), Note: r.Note,
			GradientBytes: r.GradientBytes, ReduceSecPerStep: r.ReduceSecPerStep}
		for _, l := range r.Losses {
			jr.Losses = append(jr.Losses, finite(l))
		}
		jt.Rows = append(jt.Rows, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jt)
}

// csvHeader are the columns of the CSV output.
var csvHeader = []string{"method", "name", "trainable", "total", "percent", "peak_bytes", "memory_mib",
	"memory_delta_pct", "sec_per_step", "examples_per_s", "epoch_s", "time_delta_pct", "final_loss", "score", "note"}

func (t *Table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range t.Rows {
		rec := []string{string(r.Method), r.Name, strconv.FormatInt(r.Trainable, 10), strconv.FormatInt(r.Total, 10),
			num(r.Percent), strconv.FormatInt(r.PeakBytes, 10), num(r.MemoryMiB), num(r.MemoryDelta),
			num(r.SecPerStep), num(r.ExamplesPerSec), num(r.EpochSeconds), num(r.TimeDelta), num(r.FinalLoss), num(r.Score), r.Note}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// finite returns a pointer to x, or nil when x is NaN or infinite.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// num formats x for CSV: shortest exact form, empty when not finite.
func num(x float64) string {
	if finite(x) == nil {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// pct formats a Δ%: "+5.2%", "−45.1%" or "–" when absent.
func pct(x float64) string {
	if finite(x) == nil {
		return "–"
	}
	return strings.Replace(fmt.Sprintf("%+.1f%%", x), "-", "−", 1)
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ReadJSON reads a table written by Write in the "json" format, so that a
// long run can be printed in another format or plotted again.
func ReadJSON(r io.Reader) (*Table, error) {
	var jt jsonTable
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jt); err != nil {
		return nil, fmt.Errorf("bench: reading a JSON table: %w", err)
	}
	if jt.Batch <= 0 || jt.Steps <= 0 || jt.EpochExamples <= 0 || jt.ScoreName == "" {
		return nil, fmt.Errorf("bench: reading a JSON table: missing batch, steps, epoch_examples or score_name")
	}
	t := &Table{Shape: jt.Shape, Pretrained: jt.Pretrained, BaseParams: jt.BaseParams, Backend: jt.Backend,
		Batch: jt.Batch, Seq: jt.Seq, Steps: jt.Steps, EpochExamples: jt.EpochExamples, Seed: jt.Seed,
		SourceLen: jt.SourceLen, TargetLen: jt.TargetLen, Threads: jt.Threads,
		ScoreName: jt.ScoreName, Elapsed: time.Duration(jt.ElapsedSec * float64(time.Second))}
	if jt.Dropout != nil {
		t.Dropout = *jt.Dropout
	}
	t.MaxGradNorm = DefaultMaxGradNorm // tables written before the field clipped at the default
	if jt.MaxGradNorm != nil {
		t.MaxGradNorm = *jt.MaxGradNorm
	}
	for _, jr := range jt.Rows {
		r := Row{Method: peft.Method(jr.Method), Name: jr.Name, Trainable: jr.Trainable, Total: jr.Total,
			Percent: jr.Percent, PeakBytes: jr.PeakBytes, MemoryMiB: jr.MemoryMiB, MemoryDelta: orNaN(jr.MemoryDelta),
			SecPerStep: jr.SecPerStep, ExamplesPerSec: jr.ExamplesPerS, EpochSeconds: jr.EpochSeconds, TimeDelta: orNaN(jr.TimeDelta),
			FinalLoss: orNaN(jr.FinalLoss), Score: orNaN(jr.Score), Note: jr.Note}
		for _, l := range jr.Losses {
			r.Losses = append(r.Losses, orNaN(l))
		}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// orNaN is finite's inverse: NaN for nil.
func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// clipText describes a clipping norm: "at norm 1", or "off" for 0.
func clipText(v float64) string {
	if v == 0 {
		return "off"
	}
	return fmt.Sprintf("at norm %g", v)
}
