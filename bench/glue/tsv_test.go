package glue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// realGLUE is the folder of the real GLUE files (outside the repository).
var realGLUE = filepath.Join("..", "..", "..", "shared", "glue")

func TestReadFixtures(t *testing.T) {
	qqp, _ := Lookup("qqp")
	ex, skipped, err := qqp.ReadFile(filepath.Join("testdata", "QQP", "train.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 4 || skipped != 1 {
		t.Fatalf("QQP train: %d examples, %d skipped; want 4 and 1", len(ex), skipped)
	}
	if want := `qqp question1: Is "slow cooking" healthier? question2: Does slow cooking keep more vitamins?`; ex[2].Input != want || ex[2].Target != "1" || ex[2].Line != 4 {
		t.Errorf("QQP row 3 = %+v, want input %q, target 1, line 4", ex[2], want)
	}
	mnli, _ := Lookup("MNLI")
	d, err := mnli.Load("testdata", 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Train) != 3 || len(d.Validation) != 3 || len(d.Test) != 2 {
		t.Fatalf("MNLI splits %d/%d/%d, want 3/3/2 (validation = mismatched)", len(d.Train), len(d.Validation), len(d.Test))
	}
	if got := []string{d.Train[0].Target, d.Train[1].Target, d.Train[2].Target}; !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Errorf("MNLI train targets %v", got)
	}
	if want := "mnli premise: Thank you for the quick reply. hypothesis: You never replied."; d.Validation[0].Input != want {
		t.Errorf("MNLI validation[0] = %q, want %q", d.Validation[0].Input, want)
	}
	qnli, _ := Lookup("qnli")
	ex, _, err = qnli.ReadFile(filepath.Join("testdata", "QNLI", "dev.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 || ex[1].Target != "1" || !strings.HasPrefix(ex[1].Input, "qnli question: How long is the canal? sentence: ") {
		t.Errorf("QNLI dev = %+v", ex)
	}
}

func TestBadRows(t *testing.T) {
	dir := t.TempDir()
	rte, _ := Lookup("rte")
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "index\tsentence1\tsentence2\tlabel\n"
	for _, c := range []struct{ body, want string }{
		{head + "0\ta\tb\tentailment\n1\ta \"quoted\tb\n", ":3: 3 fields, want 4"},
		{head + "0\ta\tb\tentailment\n1\ta\tb\tmaybe\n", ":3: label \"maybe\""},
		{"index\tsentence1\tlabel\n0\ta\tentailment\n", ":1: header has no column \"sentence2\""},
		{"", "is empty"},
	} {
		p := write("rte.tsv", c.body)
		_, _, err := rte.ReadFile(p)
		if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), p+c.want) && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want ErrData with %q", c.body, err, p+c.want)
		}
	}
	// Quotes are text, CRLF line ends and a BOM are accepted.
	p := write("ok.tsv", "\ufeff"+strings.ReplaceAll(head+"0\t\"a\tb\"\tnot_entailment\n", "\n", "\r\n"))
	ex, _, err := rte.ReadFile(p)
	if err != nil || len(ex) != 1 || ex[0].Input != `rte sentence1: "a sentence2: b"` || ex[0].Target != "1" {
		t.Errorf("got %+v, %v", ex, err)
	}
	sts, _ := Lookup("stsb")
	p = write("sts.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\ts\ts\ta\tb\t5.5\n")
	if _, _, err := sts.ReadFile(p); err == nil || !strings.Contains(err.Error(), p+":2:") {
		t.Errorf("STS-B score 5.5: error %v", err)
	}
}

func TestSplitsDeterministic(t *testing.T) {
	// A large task needs more than 1000 training rows: write a synthetic
	// QNLI in its layout.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "QNLI"), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("index\tquestion\tsentence\tlabel\n")
	for i := 0; i < 1200; i++ {
		fmt.Fprintf(&b, "%d\tq%d\ts%d\tentailment\n", i, i, i)
	}
	qnli, _ := Lookup("qnli")
	for _, f := range []string{"train.tsv", "dev.tsv"} {
		if err := os.WriteFile(filepath.Join(dir, "QNLI", f), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d1, err := qnli.Load(dir, 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d1.Validation) != 1000 || len(d1.Train) != 200 {
		t.Fatalf("QNLI: %d validation, %d train; want 1000 and 200", len(d1.Validation), len(d1.Train))
	}
	seen := map[string]bool{}
	for _, e := range slices.Concat(d1.Train, d1.Validation) {
		if seen[e.Input] {
			t.Fatalf("%q in both train and validation", e.Input)
		}
		seen[e.Input] = true
	}
	d2, _ := qnli.Load(dir, 42, 50)
	d3, _ := qnli.Load(dir, 7, 0)
	if !slices.Equal(d2.Train, d1.Train[:50]) || !slices.Equal(d2.Validation, d1.Validation) {
		t.Error("train samples are not the first of the same shuffle")
	}
	if slices.Equal(d3.Validation, d1.Validation) {
		t.Error("another seed gives the same validation split")
	}
	if _, err := qnli.Load(dir, 42, 201); err == nil {
		t.Error("more train samples than there are accepted")
	}
}

// TestRealFiles reads the real GLUE files: the documented row counts and
// the small tasks' dev halves.
func TestRealFiles(t *testing.T) {
	if _, err := os.Stat(realGLUE); err != nil {
		t.Skipf("real GLUE files not available (%v)", err)
	}
	for _, c := range []struct {
		task       string
		train, dev int
	}{{"cola", 8551, 1043}, {"sst2", 67349, 872}, {"mrpc", 3668, 408}, {"stsb", 5749, 1500}, {"rte", 2490, 277}} {
		task, _ := Lookup(c.task)
		if testing.Short() && c.task == "sst2" {
			continue
		}
		d, err := task.Load(realGLUE, 42, 0)
		if err != nil {
			t.Fatal(err)
		}
		dev := len(d.Validation) + len(d.Test)
		if task.Small {
			if len(d.Train) != c.train || dev != c.dev || len(d.Validation) != c.dev/2 {
				t.Errorf("%s: %d train, %d+%d dev; want %d, %d split in halves", c.task, len(d.Train), len(d.Validation), len(d.Test), c.train, c.dev)
			}
		} else if len(d.Train)+len(d.Validation) != c.train || len(d.Test) != c.dev {
			t.Errorf("%s: %d+%d train, %d test; want %d and %d", c.task, len(d.Train), len(d.Validation), len(d.Test), c.train, c.dev)
		}
		if d.Skipped != 0 {
			t.Errorf("%s: %d rows skipped", c.task, d.Skipped)
		}
		d2, _ := task.Load(realGLUE, 42, 0)
		if !slices.Equal(d.Validation, d2.Validation) || !slices.Equal(d.Test, d2.Test) {
			t.Errorf("%s: splits differ between loads", c.task)
		}
	}
	rte, _ := Lookup("rte")
	ex, _, err := rte.ReadFile(filepath.Join(realGLUE, "RTE", "dev.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ex[0].Input, "rte sentence1: ") || !strings.Contains(ex[0].Input, " sentence2: ") || ex[0].Line != 2 {
		t.Errorf("RTE dev[0] = %+v", ex[0])
	}
	var ones int
	for _, e := range ex {
		if e.Target == "1" {
			ones++
		}
	}
	if ones != 131 {
		t.Errorf("RTE dev: %d not_entailment, want 131", ones)
	}
}
