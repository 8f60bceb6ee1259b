package sweep

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/peft"

	"gonum.org/v1/gonum/stat"
)

// Stat is the mean and sample standard deviation of N values (Std is 0
// for one value, both 0 for none).
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// MeanStd returns the mean and the sample standard deviation (n−1
// denominator) of v.
func MeanStd(v []float64) Stat {
	switch len(v) {
	case 0:
		return Stat{}
	case 1:
		return Stat{Mean: v[0], N: 1}
	}
	m, s := stat.MeanStdDev(v, nil)
	return Stat{Mean: m, Std: s, N: len(v)}
}

// Row is one (task, method, size) of the table, over the seeds.
type Row struct {
	Task   string      `json:"task"`
	Method peft.Method `json:"method"`
	Size   int         `json:"size"`
	// Requested are the sizes of the grid the row stands for (see Cell).
	Requested []int `json:"requested_sizes"`
	// Seeds and Scores are the finished seeds and their test scores.
	Seeds  []uint64  `json:"seeds"`
	Scores []float64 `json:"scores"`
	// Score is the test score over the seeds, Validation the best
	// validation score, Metrics each of the task's test metrics.
	Score      Stat            `json:"score"`
	Validation Stat            `json:"validation"`
	Metrics    map[string]Stat `json:"metrics"`
	// Failed counts seeds whose loss diverged, Pending those not run yet.
	Failed  int `json:"failed"`
	Pending int `json:"pending"`
	// TrainableParams is the method's trained parameter count.
	TrainableParams int64 `json:"trainable_params"`
}

// Table is the sweep's aggregate.
type Table struct {
	// Cells, Finished and Failed count the plan's cells and those with a
	// result; Complete says every cell has one.
	Cells    int  `json:"cells"`
	Finished int  `json:"finished"`
	Failed   int  `json:"failed"`
	Complete bool `json:"complete"`
	// Model and Backend are the first result's.
	Model   string   `json:"model"`
	Backend string   `json:"backend"`
	Seeds   []uint64 `json:"seeds"`
	Notes   []string `json:"notes,omitempty"`
	// Rows in task, method, size order (the plan's task and method order).
	Rows []Row `json:"rows"`
}

// Aggregate builds the table of a plan from its cells' results (nil for
// cells not run).
func Aggregate(p *Plan, results []*Result) *Table {
	t := &Table{Cells: len(p.Cells), Notes: p.Notes, Rows: []Row{}}
	index := map[string]int{}
	var keys []string
	for i, c := range p.Cells {
		if !slices.Contains(t.Seeds, c.Seed) {
			t.Seeds = append(t.Seeds, c.Seed)
		}
		k := fmt.Sprintf("%s\x00%s\x00%d", c.Task, c.Method, c.Size)
		j, ok := index[k]
		if !ok {
			j = len(t.Rows)
			index[k] = j
			keys = append(keys, k)
			t.Rows = append(t.Rows, Row{Task: c.Task, Method: c.Method, Size: c.Size, Requested: c.Requested,
				Seeds: []uint64{}, Scores: []float64{}, Metrics: map[string]Stat{}})
		}
		row := &t.Rows[j]
		r := results[i]
		switch {
		case r == nil:
			row.Pending++
			continue
		case r.Status == StatusFailed:
			row.Failed++
			t.Failed++
		case r.Test != nil:
			row.Seeds = append(row.Seeds, c.Seed)
			row.Scores = append(row.Scores, r.Test.Score)
		}
		t.Finished++
		row.TrainableParams = r.TrainableParams
		if t.Model == "" {
			t.Model, t.Backend = r.Model, r.Backend
		}
	}
	t.Complete = t.Finished == t.Cells
	// Order: the plan's first appearance of the task and method, then size.
	taskOrder, methodOrder := map[string]int{}, map[peft.Method]int{}
	for _, c := range p.Cells {
		if _, ok := taskOrder[c.Task]; !ok {
			taskOrder[c.Task] = len(taskOrder)
		}
		if _, ok := methodOrder[c.Method]; !ok {
			methodOrder[c.Method] = len(methodOrder)
		}
	}
	for j := range t.Rows {
		row := &t.Rows[j]
		var val []float64
		metrics := map[string][]float64{}
		for i, c := range p.Cells {
			r := results[i]
			if r == nil || r.Test == nil || c.Task != row.Task || c.Method != row.Method || c.Size != row.Size {
				continue
			}
			val = append(val, r.Validation)
			for m, v := range r.Test.Metrics {
				metrics[m] = append(metrics[m], v)
			}
		}
		row.Score, row.Validation = MeanStd(row.Scores), MeanStd(val)
		for m, v := range metrics {
			row.Metrics[m] = MeanStd(v)
		}
	}
	slices.SortStableFunc(t.Rows, func(a, b Row) int {
		if d := taskOrder[a.Task] - taskOrder[b.Task]; d != 0 {
			return d
		}
		if d := methodOrder[a.Method] - methodOrder[b.Method]; d != 0 {
			return d
		}
		return a.Size - b.Size
	})
	return t
}

// tasks lists the table's tasks in order.
func (t *Table) tasks() []string {
	var out []string
	for _, r := range t.Rows {
		if !slices.Contains(out, r.Task) {
			out = append(out, r.Task)
		}
	}
	return out
}

// rowsOf are a task's rows.
func (t *Table) rowsOf(task string) []Row {
	var out []Row
	for _, r := range t.Rows {
		if r.Task == task {
			out = append(out, r)
		}
	}
	return out
}

// WriteJSON writes the table as one indented JSON object.
func (t *Table) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// CSVHeader are the columns of WriteCSV.
var CSVHeader = []string{"task", "method", "size", "requested_sizes", "seeds_finished", "seeds_failed", "seeds_pending",
	"score_mean", "score_std", "validation_mean", "validation_std", "trainable_params", "seeds", "scores"}

// WriteCSV writes one line per row (CSVHeader); sizes, seeds and scores
// lists are joined with ';', the mean and std of a row without a finished
// seed are empty.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	for _, r := range t.Rows {
		rec := []string{r.Task, string(r.Method), strconv.Itoa(r.Size), joinInts(r.Requested), strconv.Itoa(r.Score.N),
			strconv.Itoa(r.Failed), strconv.Itoa(r.Pending), "", "", "", "", strconv.FormatInt(r.TrainableParams, 10)}
		if r.Score.N > 0 {
			rec[7], rec[8], rec[9], rec[10] = f(r.Score.Mean), f(r.Score.Std), f(r.Validation.Mean), f(r.Validation.Std)
		}
		seeds := make([]string, len(r.Seeds))
		scores := make([]string, len(r.Scores))
		for i := range r.Seeds {
			seeds[i], scores[i] = strconv.FormatUint(r.Seeds[i], 10), f(r.Scores[i])
		}
		rec = append(rec, strings.Join(seeds, ";"), strings.Join(scores, ";"))
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ";")
}

// WriteMarkdown writes one table per task: a row per method, a column per
// size, "mean ± std" of the test score over the seeds.
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Low-resource sweep\n\n")
	status := "complete"
	if !t.Complete {
		status = "incomplete"
	}
	fmt.Fprintf(&b, "%d of %d cells finished (%s), %d failed; model %s, backend %s, seeds %s.\n\n",
		t.Finished, t.Cells, status, t.Failed, orDash(t.Model), orDash(t.Backend), joinU(t.Seeds))
	b.WriteString("Test score (the mean of the task's metrics ×100, with the best epoch's method) by training-set size: " +
		"mean ± sample standard deviation over the finished seeds; (k/n) marks a size with k of n seeds finished, " +
		"† a failed (diverged) seed.\n")
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "\nNote: %s.\n", n)
	}
	for _, task := range t.tasks() {
		rows := t.rowsOf(task)
		var sizes []int
		var methods []peft.Method
		req := map[int][]int{}
		for _, r := range rows {
			if !slices.Contains(sizes, r.Size) {
				sizes = append(sizes, r.Size)
				req[r.Size] = r.Requested
			}
			if !slices.Contains(methods, r.Method) {
				methods = append(methods, r.Method)
			}
		}
		slices.Sort(sizes)
		title := task
		if tk, err := glue.Lookup(task); err == nil {
			title = fmt.Sprintf("%s (%s)", tk.Dir, strings.Join(tk.Metrics, ", "))
		}
		fmt.Fprintf(&b, "\n## %s\n\n| method | trained params |", title)
		for _, n := range sizes {
			if r := req[n]; len(r) != 1 || r[0] != n {
				fmt.Fprintf(&b, " n = %d (asked %s) |", n, strings.ReplaceAll(joinInts(r), ";", ", "))
			} else {
				fmt.Fprintf(&b, " n = %d |", n)
			}
		}
		b.WriteString("\n|---|---|" + strings.Repeat("---|", len(sizes)) + "\n")
		for _, m := range methods {
			fmt.Fprintf(&b, "| %s |", m)
			cells := make([]string, len(sizes))
			var params int64
			for _, r := range rows {
				if r.Method != m {
					continue
				}
				params = max(params, r.TrainableParams)
				cells[slices.Index(sizes, r.Size)] = mdCell(r)
			}
			p := "–"
			if params > 0 {
				p = strconv.FormatInt(params, 10)
			}
			fmt.Fprintf(&b, " %s | %s |\n", p, strings.Join(cells, " | "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCell formats a row's score for the Markdown table.
func mdCell(r Row) string {
	total := r.Score.N + r.Failed + r.Pending
	s := "–"
	if r.Score.N > 0 {
		s = fmt.Sprintf("%.2f ± %.2f", r.Score.Mean, r.Score.Std)
	}
	if r.Score.N != total {
		s += fmt.Sprintf(" (%d/%d)", r.Score.N, total)
	}
	if r.Failed > 0 {
		s += " " + strings.Repeat("†", r.Failed)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func joinU(v []uint64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(s, ", ")
}

// Table output names in OutDir.
const (
	TableJSON     = "table.json"
	TableMarkdown = "table.md"
	TableCSV      = "table.csv"
)

// writeOutputs aggregates the summary's results and writes the tables
// and (figures) the figures into dir, returning the paths written.
func writeOutputs(dir string, sum *Summary, figures bool) ([]string, error) {
	sum.Table = Aggregate(sum.Plan, sum.Results)
	var files []string
	for _, o := range []struct {
		name  string
		write func(io.Writer) error
	}{{TableJSON, sum.Table.WriteJSON}, {TableMarkdown, sum.Table.WriteMarkdown}, {TableCSV, sum.Table.WriteCSV}} {
		path := filepath.Join(dir, o.name)
		if err := writeAtomicFunc(path, func(f *os.File) error { return o.write(f) }); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	if !figures {
		return files, nil
	}
	figs, err := sum.Table.SaveFigures(dir)
	return append(files, figs...), err
}

// finite reports whether x is a number.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
