package sweep

import "github.com/compacter-go/compacter/peft"

// timing is a finished cell's wall time and work (training examples
// processed: size × epochs).
type timing struct {
	method    peft.Method
	work, sec float64
}

// fit fits seconds = a + b·work by least squares, with a, b ≥ 0: a is
// the fixed cost of a cell (loading, evaluation), b the cost of a training
// example. With one distinct work (or a negative fit) it falls back to
// seconds proportional to work, or (a negative slope) to their mean.
func fit(ts []timing) (a, b float64, ok bool) {
	if len(ts) == 0 {
		return 0, 0, false
	}
	var sw, ss float64
	distinct := false
	for _, t := range ts {
		sw += t.work
		ss += t.sec
		distinct = distinct || t.work != ts[0].work
	}
	n := float64(len(ts))
	mw, ms := sw/n, ss/n
	if !distinct || mw == 0 {
		if mw == 0 {
			return ms, 0, true
		}
		return 0, ss / sw, true
	}
	var cov, vw float64
	for _, t := range ts {
		cov += (t.work - mw) * (t.sec - ms)
		vw += (t.work - mw) * (t.work - mw)
	}
	b = cov / vw
	a = ms - b*mw
	switch {
	case b < 0:
		return ms, 0, true
	case a < 0:
		return 0, ss / sw, true
	}
	return a, b, true
}

// estimate is the expected seconds of a cell of a method and work: the
// fit of that method's finished cells, or of all cells while the method
// has none.
func estimate(ts []timing, m peft.Method, work float64) (float64, bool) {
	var own []timing
	for _, t := range ts {
		if t.method == m {
			own = append(own, t)
		}
	}
	if len(own) == 0 {
		own = ts
	}
	a, b, ok := fit(own)
	return a + b*work, ok
}
