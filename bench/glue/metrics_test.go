package glue

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMetricsHandComputed(t *testing.T) {
	// sklearn's matthews_corrcoef docstring example: -1/3.
	if got := Matthews([]string{"1", "0", "1", "1"}, []string{"1", "1", "1", "0"}); !near(got, -1.0/3, 1e-12) {
		t.Errorf("Matthews binary = %v, want -1/3", got)
	}
	// Three classes: c=2, s=4, Σp·t=5, Σp²=Σt²=6 → (8−5)/10.
	if got := Matthews([]string{"a", "b", "c", "a"}, []string{"a", "b", "b", "c"}); !near(got, 0.3, 1e-12) {
		t.Errorf("Matthews 3-class = %v, want 0.3", got)
	}
	if got := Matthews([]string{"1", "1"}, []string{"1", "0"}); got != 0 {
		t.Errorf("Matthews with constant predictions = %v, want 0", got)
	}
	// The invalid prediction "x" (target 1) counts as 0: tp 1, fp 1, fn 2.
	if got := F1([]string{"1", "x", "1", "0", "0"}, []string{"1", "1", "0", "0", "1"}); !near(got, 0.4, 1e-12) {
		t.Errorf("F1 = %v, want 0.4", got)
	}
	if got := F1([]string{"0", "0"}, []string{"0", "0"}); got != 0 {
		t.Errorf("F1 without positives = %v, want 0", got)
	}
	if got := Accuracy([]string{"1", "0", "2", "x"}, []string{"1", "1", "2", "0"}); got != 0.5 {
		t.Errorf("Accuracy = %v, want 0.5", got)
	}
	// scipy.stats.spearmanr's documentation example (ties in y).
	if got := Spearman([]float64{1, 2, 3, 4, 5}, []float64{5, 6, 7, 8, 7}); !near(got, 0.82078268166812329, 1e-12) {
		t.Errorf("Spearman = %v, want 0.8207826816681233", got)
	}
	if got := Pearson([]float64{1, 2, 3}, []float64{2, 2, 2}); got != 0 {
		t.Errorf("Pearson of a constant = %v, want 0", got)
	}
}

// TestMetricsAgainstGonum checks Pearson against gonum/stat, Spearman
// against gonum's Pearson of ranks computed independently (no ties), and
// the multi-class Matthews against the binary formula.
func TestMetricsAgainstGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		n := 2 + r.IntN(200)
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64()
			y[i] = 0.5*x[i] + r.NormFloat64()
		}
		if got, want := Pearson(x, y), stat.Correlation(x, y, nil); !near(got, want, 1e-12) {
			t.Fatalf("Pearson = %v, gonum %v", got, want)
		}
		rank := func(v []float64) []float64 {
			out := make([]float64, len(v))
			for i := range v {
				for j := range v {
					if v[j] < v[i] {
						out[i]++
					}
				}
				out[i]++
			}
			return out
		}
		if got, want := Spearman(x, y), stat.Correlation(rank(x), rank(y), nil); !near(got, want, 1e-12) {
			t.Fatalf("Spearman = %v, want %v", got, want)
		}
		p, g := make([]string, n), make([]string, n)
		var tp, tn, fp, fn float64
		for i := range p {
			p[i], g[i] = strconv.Itoa(r.IntN(2)), strconv.Itoa(r.IntN(2))
			switch {
			case p[i] == "1" && g[i] == "1":
				tp++
			case p[i] == "0" && g[i] == "0":
				tn++
			case p[i] == "1":
				fp++
			default:
				fn++
			}
		}
		den := math.Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
		want := 0.0
		if den > 0 {
			want = (tp*tn - fp*fn) / den
		}
		if got := Matthews(p, g); !near(got, want, 1e-12) {
			t.Fatalf("Matthews = %v, binary formula %v", got, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	mrpc, _ := Lookup("mrpc")
	r, err := mrpc.Evaluate([]string{"1", "x", "1", "0", "0"}, []string{"1", "1", "0", "0", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Metrics[MetricF1], 40, 1e-9) || !near(r.Metrics[MetricAccuracy], 40, 1e-9) || !near(r.Score, 40, 1e-9) || r.Invalid != 1 {
		t.Errorf("MRPC result %+v", r)
	}
	stsb, _ := Lookup("STS-B")
	r, err = stsb.Evaluate([]string{"1.0", "2.0", "nonsense", "4.5"}, []string{"1.2", "2.0", "3.0", "4.4"})
	if err != nil {
		t.Fatal(err)
	}
	wantP := 100 * Pearson([]float64{1.2, 2, 3, 4.4}, []float64{1, 2, -1, 4.5})
	if !near(r.Metrics[MetricPearson], wantP, 1e-9) || r.Invalid != 1 {
		t.Errorf("STS-B result %+v, want pearson %v", r, wantP)
	}
	if _, err := stsb.Evaluate([]string{"1"}, nil); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestStsbTarget(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{0, "0.0"}, {5, "5.0"}, {3.8, "3.8"}, {2.75, "2.8"}, {0.25, "0.2"}, {3.45, "3.4"}, {1.667, "1.7"}, {4.96, "5.0"}} {
		if got := StsbTarget(c.in); got != c.want {
			t.Errorf("StsbTarget(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
