package bench

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/compacter-go/compacter/peft"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot draws the paper's trade-off figure: x is the share of trained
// parameters (%, log scale), y the score column (the final loss without a
// task), and each method is a labelled circle whose area is proportional
// to its peak memory.
func (t *Table) Plot() (*plot.Plot, error) {
	if len(t.Rows) == 0 {
		return nil, errors.New("bench: plot: no rows")
	}
	xys := make(plotter.XYs, 0, len(t.Rows))
	labels := make([]string, 0, len(t.Rows))
	var maxMem float64
	for _, r := range t.Rows {
		y := r.Value()
		if !(r.Percent > 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return nil, fmt.Errorf("bench: plot: %s has no plottable point (%% params %v, %s %v)", r.Name, r.Percent, t.ScoreName, y)
		}
		xys = append(xys, plotter.XY{X: r.Percent, Y: y})
		labels = append(labels, r.Name)
		maxMem = max(maxMem, r.MemoryMiB)
	}
	p := plot.New()
	p.Title.Text = "Trade-off: " + t.ScoreName + " vs. trained parameters (circle area: peak memory)"
	p.X.Label.Text = "trained parameters (% of the model, log scale)"
	p.Y.Label.Text = t.ScoreName
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Tick.Marker = fineTicks{}
	p.Add(plotter.NewGrid())

	const maxRadius = 18 // points, for the largest memory
	radius := func(i int) vg.Length {
		if maxMem <= 0 {
			return vg.Points(3)
		}
		return vg.Points(max(2, maxRadius*math.Sqrt(t.Rows[i].MemoryMiB/maxMem)))
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, fmt.Errorf("bench: plot: %w", err)
	}
	sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
		c := color.NRGBA{R: 31, G: 119, B: 180, A: 140}
		if t.Rows[i].Method == peft.Compacter || t.Rows[i].Method == peft.CompacterPP {
			c = color.NRGBA{R: 214, G: 39, B: 40, A: 160}
		}
		return draw.GlyphStyle{Color: c, Radius: radius(i), Shape: draw.CircleGlyph{}}
	}
	p.Add(sc)

	// Room for the circles and the labels.
	p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*5
	span := p.Y.Max - p.Y.Min
	if span <= 0 {
		span = math.Max(math.Abs(p.Y.Max), 1) * 0.1
	}
	p.Y.Min, p.Y.Max = p.Y.Min-0.15*span, p.Y.Max+0.15*span

	// One label per point, stacked downwards where points crowd together
	// (the adapter methods sit close to each other).
	nx := func(x float64) float64 { return math.Log(x/p.X.Min) / math.Log(p.X.Max/p.X.Min) }
	ny := func(y float64) float64 { return (y - p.Y.Min) / (p.Y.Max - p.Y.Min) }
	for i, xy := range xys {
		crowd := 0
		for _, q := range xys[:i] {
			if math.Abs(nx(q.X)-nx(xy.X)) < 0.12 && math.Abs(ny(q.Y)-ny(xy.Y)) < 0.06 {
				crowd++
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys[i : i+1], Labels: labels[i : i+1]})
		if err != nil {
			return nil, fmt.Errorf("bench: plot: %w", err)
		}
		lb.Offset = vg.Point{X: radius(i)*0.7 + vg.Points(2), Y: vg.Points(2 - 9*float64(crowd))}
		lb.TextStyle[0].Font.Size = vg.Points(8)
		p.Add(lb)
	}
	return p, nil
}

// fineTicks are plot.DefaultTicks with labels precise enough to tell
// close ticks apart (losses that differ in the third decimal).
type fineTicks struct{}

// Ticks implements plot.Ticker.
func (fineTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	prec := 0
	if span := hi - lo; span > 0 {
		prec = max(0, int(math.Ceil(-math.Log10(span)))+1)
	}
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', prec, 64)
		}
	}
	return ticks
}

// SavePlot writes the figure as prefix.svg and prefix.png and returns the
// two paths.
func (t *Table) SavePlot(prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("bench: plot: empty file prefix")
	}
	p, err := t.Plot()
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, ext := range []string{"svg", "png"} {
		path := prefix + "." + ext
		if err := savePlot(p, path, ext); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// savePlot writes one format through a temporary file and a rename, so
// that a failed write leaves no partial figure.
func savePlot(p *plot.Plot, path, format string) (err error) {
	wt, err := p.WriterTo(16*vg.Centimeter, 11*vg.Centimeter, format)
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".bench-plot-*")
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = wt.WriteTo(f); err != nil {
		return fmt.Errorf("bench: plot: %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("bench: plot: %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return nil
}
