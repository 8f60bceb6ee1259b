package glue

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Accuracy is the fraction of predictions equal to their target.
func Accuracy(pred, target []string) float64 {
	if len(pred) == 0 {
		return 0
	}
	n := 0
	for i := range pred {
		if pred[i] == target[i] {
			n++
		}
	}
	return float64(n) / float64(len(pred))
}

// F1 is the F1 score of the positive class "1" of a binary task, with the
// official code's f1_score_with_invalid rule: a prediction that is neither
// "0" nor "1" counts as the opposite of its target. It is 0 when there is
// no true or predicted positive (sklearn's zero_division default).
func F1(pred, target []string) float64 {
	var tp, fp, fn int
	for i := range pred {
		p, t := pred[i], target[i]
		if p != "0" && p != "1" {
			p = "1"
			if t == "1" {
				p = "0"
			}
		}
		switch {
		case p == "1" && t == "1":
			tp++
		case p == "1":
			fp++
		case t == "1":
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn)
}

// Matthews is the Matthews correlation coefficient of the predictions, in
// its multi-class form (Gorodkin's R_K, as sklearn's matthews_corrcoef):
// every distinct string, invalid predictions included, is a class. It is 0
// when it is undefined (all targets or all predictions one class).
func Matthews(pred, target []string) float64 {
	classes := map[string]int{}
	for _, s := range slices.Concat(pred, target) {
		if _, ok := classes[s]; !ok {
			classes[s] = len(classes)
		}
	}
	k := len(classes)
	tk, pk := make([]float64, k), make([]float64, k)
	var c float64
	for i := range pred {
		p, t := classes[pred[i]], classes[target[i]]
		tk[t]++
		pk[p]++
		if p == t {
			c++
		}
	}
	s := float64(len(pred))
	var pt, pp, tt float64
	for i := range tk {
		pt += pk[i] * tk[i]
		pp += pk[i] * pk[i]
		tt += tk[i] * tk[i]
	}
	den := math.Sqrt((s*s - pp) * (s*s - tt))
	if den == 0 {
		return 0
	}
	return (c*s - pt) / den
}

// Pearson is the Pearson correlation of x and y, 0 when it is undefined
// (fewer than two values, or a constant input).
func Pearson(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Spearman is the Spearman rank correlation of x and y (the Pearson
// correlation of their ranks, ties given their average rank, as
// scipy.stats.spearmanr), 0 when it is undefined.
func Spearman(x, y []float64) float64 { return Pearson(ranks(x), ranks(y)) }

// ranks returns the 1-based ranks of v, ties averaged.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// ParseScore reads a generated STS-B score as the official string_to_float:
// the number, or −1 when the text is not one.
func ParseScore(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}

// Result is the evaluation of predictions on a split.
type Result struct {
	// Metrics maps the task's metric names to their values ×100.
	Metrics map[string]float64 `json:"metrics"`
	// Score is the mean of the metrics (the official average_metrics).
	Score float64 `json:"score"`
	// N is the number of examples; Invalid counts the predictions that are
	// not one of the task's label words (STS-B: not a number).
	N       int `json:"n"`
	Invalid int `json:"invalid"`
}

// Evaluate scores generated predictions against the targets with the
// task's metrics.
func (t *Task) Evaluate(pred, target []string) (Result, error) {
	if len(pred) != len(target) {
		return Result{}, fmt.Errorf("glue: %d predictions for %d targets", len(pred), len(target))
	}
	if len(pred) == 0 {
		return Result{}, fmt.Errorf("glue: nothing to evaluate")
	}
	r := Result{Metrics: map[string]float64{}, N: len(pred)}
	var px, tx []float64
	if t.numeric {
		px, tx = make([]float64, len(pred)), make([]float64, len(pred))
		for i := range pred {
			px[i], tx[i] = ParseScore(pred[i]), ParseScore(target[i])
		}
	}
	for _, p := range pred {
		if _, err := strconv.ParseFloat(p, 64); t.numeric && err != nil || !t.numeric && !slices.Contains(t.Labels, p) {
			r.Invalid++
		}
	}
	for _, m := range t.Metrics {
		var v float64
		switch m {
		case MetricAccuracy:
			v = Accuracy(pred, target)
		case MetricF1:
			v = F1(pred, target)
		case MetricMatthews:
			v = Matthews(pred, target)
		case MetricPearson:
			v = Pearson(tx, px)
		case MetricSpearman:
			v = Spearman(tx, px)
		}
		r.Metrics[m] = 100 * v
		r.Score += 100 * v / float64(len(t.Metrics))
	}
	return r, nil
}
