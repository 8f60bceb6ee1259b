package sweep

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/peft"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrNoData reports a figure without a finished cell to draw.
var ErrNoData = errors.New("sweep: no finished cell to plot")

// points are a method's (size, mean score) points with their ±std.
type points struct {
	plotter.XYs
	plotter.YErrors
}

func (p points) Len() int { return len(p.XYs) }

// Figure draws a task's test score against the training-set size (log
// scale, ticks at the sizes): one line per method through the mean over
// the seeds, with error bars of ±1 sample standard deviation.
func (t *Table) Figure(task string) (*plot.Plot, error) {
	rows := t.rowsOf(task)
	var methods []peft.Method
	var sizes []int
	for _, r := range rows {
		if r.Score.N == 0 || !finite(r.Score.Mean) {
			continue
		}
		if !slices.Contains(methods, r.Method) {
			methods = append(methods, r.Method)
		}
		if !slices.Contains(sizes, r.Size) {
			sizes = append(sizes, r.Size)
		}
	}
	if len(methods) == 0 {
		return nil, fmt.Errorf("%w of %s", ErrNoData, task)
	}
	slices.Sort(sizes)
	p := plot.New()
	name, metric := task, "score"
	if tk, err := glue.Lookup(task); err == nil {
		name, metric = tk.Dir, strings.Join(tk.Metrics, ", ")
	}
	p.Title.Text = fmt.Sprintf("%s: test score vs. training-set size (mean ± std over seeds)", name)
	p.X.Label.Text = "training examples (log scale)"
	p.Y.Label.Text = "test score ×100 (" + metric + ")"
	p.X.Scale = plot.LogScale{}
	ticks := make([]plot.Tick, len(sizes))
	for i, n := range sizes {
		ticks[i] = plot.Tick{Value: float64(n), Label: strconv.Itoa(n)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(4), -vg.Points(4)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, m := range methods {
		var pts points
		for _, r := range rows {
			if r.Method != m || r.Score.N == 0 || !finite(r.Score.Mean) {
				continue
			}
			pts.XYs = append(pts.XYs, plotter.XY{X: float64(r.Size), Y: r.Score.Mean})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{r.Score.Std, r.Score.Std})
			lo, hi = min(lo, r.Score.Mean-r.Score.Std), max(hi, r.Score.Mean+r.Score.Std)
		}
		line, sc, err := plotter.NewLinePoints(pts.XYs)
		if err != nil {
			return nil, fmt.Errorf("sweep: plot: %w", err)
		}
		col := plotutil.Color(i)
		line.Color, line.Width = col, vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i)
		sc.Color, sc.Shape, sc.Radius = col, plotutil.Shape(i), vg.Points(3)
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return nil, fmt.Errorf("sweep: plot: %w", err)
		}
		eb.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1)}
		p.Add(line, sc, eb)
		p.Legend.Add(string(m), line, sc)
	}
	// Room around the points: a log x range a bit wider than the sizes,
	// and a y range of at least one point.
	p.X.Min, p.X.Max = float64(sizes[0])/1.4, float64(sizes[len(sizes)-1])*1.4
	span := hi - lo
	if !(span > 0) {
		span = 1
	}
	p.Y.Min, p.Y.Max = lo-0.1*span, hi+0.25*span
	return p, nil
}

// FigureName is the file name prefix of a task's figure in OutDir.
func FigureName(task string) string { return "figure-" + task }

// SaveFigures writes every task's figure with a finished cell as
// dir/figure-<task>.svg and .png (16 × 11 cm) and returns the paths.
func (t *Table) SaveFigures(dir string) ([]string, error) {
	var paths []string
	for _, task := range t.tasks() {
		p, err := t.Figure(task)
		if errors.Is(err, ErrNoData) {
			continue
		}
		if err != nil {
			return paths, err
		}
		for _, ext := range []string{"svg", "png"} {
			path := filepath.Join(dir, FigureName(task)+"."+ext)
			wt, err := p.WriterTo(16*vg.Centimeter, 11*vg.Centimeter, ext)
			if err != nil {
				return paths, fmt.Errorf("sweep: plot: %w", err)
			}
			if err := writeAtomicFunc(path, func(f *os.File) error { _, err := wt.WriteTo(f); return err }); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}
