package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"

	_ "github.com/compacter-go/compacter/cpu" // the cpu backend
)

var (
	spmPath  = filepath.Join("..", "..", "testdata", "tokenizer", "spiece.model")
	realGLUE = filepath.Join("..", "..", "..", "shared", "glue")
	fixtures = "testdata" // RTE in the GLUE layout, generated sentences
)

// writeTinyModel writes a T5 with generated weights (d_model 32, one
// layer each side) and the reference SentencePiece model as a checkpoint
// folder in dir.
func writeTinyModel(dir string) error {
	be, err := kernels.Open("cpu")
	if err != nil {
		return err
	}
	defer be.Close()
	cfg := t5.DefaultConfig()
	cfg.VocabSize, cfg.DModel, cfg.DKV, cfg.DFF, cfg.NumHeads = 2100, 32, 8, 64, 4
	cfg.NumLayers, cfg.NumDecoderLayers, cfg.RelativeAttentionNumBuckets = 1, 1, 8
	m, err := t5.New(cfg, be)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.InitWeights(1); err != nil {
		return err
	}
	if err := m.Save(dir); err != nil {
		return err
	}
	spm, err := os.ReadFile(spmPath)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "spiece.model"), spm, 0o644)
}

func tinyModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeTinyModel(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyPEFT scales the methods to d_model 32: reduction factor 4 (a
// bottleneck of 8, divisible by Compacter's n = 4).
func tinyPEFT(m peft.Method) (peft.Config, error) {
	c, err := peft.Default(m)
	c.ReductionFactor = 4
	return c, err
}

func ptr[T any](v T) *T { return &v }

// tinyConfig is a fast sweep: one epoch of batch 8, 4 validation and test
// examples, max length 48.
func tinyConfig(model, data, out string, tasks []string, methods []peft.Method, sizes []int, seeds []uint64) Config {
	return Config{ModelDir: model, Backend: "cpu", DataDir: data, OutDir: out, Tasks: tasks, Methods: methods,
		Sizes: sizes, Seeds: seeds, PEFT: tinyPEFT, EvalSamples: 4,
		Hyper: Overrides{LR: ptr(1e-2), Epochs: ptr(1), Batch: ptr(8), Warmup: ptr(0), MaxLen: ptr(48)}}
}

func TestMeanStd(t *testing.T) {
	// Sample standard deviation of 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of
	// squared deviations 32, sqrt(32/7).
	s := MeanStd([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if s.N != 8 || math.Abs(s.Mean-5) > 1e-12 || math.Abs(s.Std-math.Sqrt(32.0/7)) > 1e-12 {
		t.Errorf("MeanStd = %+v, want mean 5, std %v", s, math.Sqrt(32.0/7))
	}
	if s := MeanStd([]float64{70}); s != (Stat{Mean: 70, N: 1}) {
		t.Errorf("one value: %+v", s)
	}
	if s := MeanStd(nil); s != (Stat{}) {
		t.Errorf("no value: %+v", s)
	}
	if s := MeanStd([]float64{1, 2}); math.Abs(s.Std-math.Sqrt(0.5)) > 1e-12 {
		t.Errorf("std of 1, 2 = %v, want sqrt(1/2)", s.Std)
	}
}

func TestETAFit(t *testing.T) {
	// Exact data seconds = 2 + 0.01·work is recovered.
	ts := []timing{{"a", 100, 3}, {"a", 400, 6}, {"a", 1000, 12}}
	a, b, ok := fit(ts)
	if !ok || math.Abs(a-2) > 1e-9 || math.Abs(b-0.01) > 1e-12 {
		t.Errorf("fit = %v + %v·w (%v), want 2 + 0.01·w", a, b, ok)
	}
	if s, _ := estimate(ts, "a", 4000); math.Abs(s-42) > 1e-9 {
		t.Errorf("estimate(4000) = %v, want 42", s)
	}
	// One work: proportional. Another method without samples uses all.
	if s, ok := estimate([]timing{{"a", 100, 5}, {"a", 100, 7}}, "b", 300); !ok || math.Abs(s-18) > 1e-9 {
		t.Errorf("proportional estimate = %v, want 18", s)
	}
	// A negative slope falls back to the mean.
	if a, b, _ := fit([]timing{{"a", 100, 9}, {"a", 200, 3}}); a != 6 || b != 0 {
		t.Errorf("negative slope: %v + %v·w, want 6", a, b)
	}
	if _, ok := estimate(nil, "a", 1); ok {
		t.Error("estimate without samples claims to know")
	}
}

// TestGeneratorIsGluesShuffle checks the documented generator: the
// subsample's lines are the first n of PCG(seed, 0x676c7565).Perm of the
// training rows (a small task: all of train.tsv, line = index + 2).
func TestGeneratorIsGluesShuffle(t *testing.T) {
	rte, _ := glue.Lookup("rte")
	for _, seed := range []uint64{0, 1, 42} {
		s, ex, err := Draw(rte, fixtures, seed, 10)
		if err != nil {
			t.Fatal(err)
		}
		perm := rand.New(rand.NewPCG(seed, 0x676c7565)).Perm(40)
		for i, l := range s.Lines {
			if l != perm[i]+2 || ex[i].Line != l {
				t.Fatalf("seed %d: example %d is line %d, the generator gives line %d", seed, i, l, perm[i]+2)
			}
		}
		if s.TrainRows != 40 || s.Size != 10 || s.Generator != Generator || s.TrainFile != filepath.Join("RTE", "train.tsv") {
			t.Errorf("record %+v", s)
		}
	}
}

// TestSubsamplesNestedAndSeeded: for a seed the subsample of size n is the
// first n of a larger one, the same for the same seed, another for another
// seed; on the fixtures and (when present) the real RTE, MRPC and SST-2
// (a large task: validation held out of train.tsv).
func TestSubsamplesNestedAndSeeded(t *testing.T) {
	type set struct {
		dir, task string
		sizes     []int
	}
	sets := []set{{fixtures, "rte", []int{5, 20, 40}}}
	if _, err := os.Stat(filepath.Join(realGLUE, "RTE")); err == nil {
		sets = append(sets, set{realGLUE, "rte", []int{100, 500, 1000, 2000}}, set{realGLUE, "mrpc", []int{100, 3000}})
		if !testing.Short() { // SST-2's 67k rows are slow under -race
			sets = append(sets, set{realGLUE, "sst2", []int{100, 4000}})
		}
	} else {
		t.Logf("real GLUE files not available (%v): fixtures only", err)
	}
	for _, c := range sets {
		task, _ := glue.Lookup(c.task)
		for _, seed := range []uint64{1, 2} {
			var prev *Subsample
			for _, n := range c.sizes {
				s, ex, err := Draw(task, c.dir, seed, n)
				if err != nil {
					t.Fatal(err)
				}
				if s.Size != n || len(s.Lines) != n || len(ex) != n {
					t.Fatalf("%s n=%d: size %d, %d lines", c.task, n, s.Size, len(s.Lines))
				}
				if prev != nil {
					if !slices.Equal(s.Lines[:prev.Size], prev.Lines) || examplesSHA256(ex[:prev.Size]) != prev.ExamplesSHA256 {
						t.Errorf("%s seed %d: the %d-example subsample does not start with the %d-example one", c.task, seed, n, prev.Size)
					}
				}
				again, _, _ := Draw(task, c.dir, seed, n)
				if !slices.Equal(again.Lines, s.Lines) || again.ExamplesSHA256 != s.ExamplesSHA256 || again.TrainSHA256 != s.TrainSHA256 {
					t.Errorf("%s seed %d n=%d: not reproducible", c.task, seed, n)
				}
				other, _, _ := Draw(task, c.dir, seed+100, n)
				if n < s.TrainRows && slices.Equal(other.Lines, s.Lines) {
					t.Errorf("%s n=%d: seeds %d and %d draw the same subsample", c.task, n, seed, seed+100)
				}
				if n == s.TrainRows && other.ExamplesSHA256 == s.ExamplesSHA256 {
					t.Errorf("%s n=%d: the whole split in the same order for two seeds", c.task, n)
				}
				// Distinct rows.
				u := slices.Clone(s.Lines)
				slices.Sort(u)
				if len(slices.Compact(u)) != n {
					t.Errorf("%s seed %d n=%d: repeated rows", c.task, seed, n)
				}
				prev = s
			}
		}
	}
}

func TestPlan(t *testing.T) {
	base := tinyConfig("m", fixtures, t.TempDir(), []string{"rte"}, []peft.Method{peft.Adapter, peft.Compacter},
		[]int{32, 8, 16, 8}, []uint64{2, 1})
	p, err := NewPlan(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Cells) != 2*3*2 || p.TrainRows["rte"] != 40 {
		t.Fatalf("%d cells, %d rows", len(p.Cells), p.TrainRows["rte"])
	}
	// Seed-major, then size ascending, then method.
	want := []string{"rte/adapter/n8/s2", "rte/compacter/n8/s2", "rte/adapter/n16/s2"}
	for i, w := range want {
		if p.Cells[i].String() != w {
			t.Errorf("cell %d is %s, want %s", i, p.Cells[i], w)
		}
	}
	if p.Cells[6].Seed != 1 || p.Cells[0].hyper.LR != 1e-2 || p.Cells[0].pc.Task != "rte" || p.Cells[0].pc.ReductionFactor != 4 {
		t.Errorf("cell 6 %+v, cell 0 hyper %+v pc %+v", p.Cells[6], p.Cells[0].hyper, p.Cells[0].pc)
	}
	if d := p.Cells[0].Dir(); d != filepath.Join("cells", "rte", "adapter", "n8", "s2") {
		t.Errorf("dir %s", d)
	}

	over := base
	over.Sizes = []int{8, 50, 100}
	if _, err := NewPlan(over); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "40 training examples, fewer than the size 50") {
		t.Errorf("size over the split: %v", err)
	}
	over.Clamp = true
	p, err = NewPlan(over)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Cells) != 2*2*2 || p.Cells[2].Size != 40 || !slices.Equal(p.Cells[2].Requested, []int{50, 100}) || len(p.Notes) != 1 {
		t.Errorf("clamped: %+v, notes %q", p.Cells[2], p.Notes)
	}

	steps := base
	steps.Hyper.Epochs, steps.Steps = nil, 6
	p, err = NewPlan(steps)
	if err != nil {
		t.Fatal(err)
	}
	// 6 steps of batch 8: n=8 → 6 epochs, n=16 → 3, n=32 → 2 (4 per epoch, rounded up).
	for _, c := range p.Cells[:6] {
		if w := map[int]int{8: 6, 16: 3, 32: 2}[c.Size]; c.hyper.Epochs != w {
			t.Errorf("%s: %d epochs, want %d", c, c.hyper.Epochs, w)
		}
	}
	both := steps
	both.Hyper.Epochs = ptr(2)
	for _, bad := range []Config{both, func() Config { c := base; c.Seeds = []uint64{1, 1}; return c }(),
		func() Config { c := base; c.Sizes = []int{0, 8}; return c }(), func() Config { c := base; c.Tasks = []string{"wnli"}; return c }(),
		func() Config { c := base; c.Methods = []peft.Method{"lora"}; return c }(), func() Config { c := base; c.Methods = nil; return c }()} {
		if _, err := NewPlan(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
}

// fileState is a file's bytes and modification time.
type fileState struct {
	data []byte
	mod  time.Time
}

func resultFiles(t *testing.T, out string) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	err := filepath.WalkDir(filepath.Join(out, "cells"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != ResultFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		m[path] = fileState{b, fi.ModTime()}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return m
}

// checkOutputs checks the three tables and the figures of a finished
// sweep of rows (task, method, size) rows.
func checkOutputs(t *testing.T, out string, tasks []string, rows int) {
	t.Helper()
	var tab Table
	b, err := os.ReadFile(filepath.Join(out, TableJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tab); err != nil {
		t.Fatal(err)
	}
	if !tab.Complete || len(tab.Rows) != rows || tab.Finished != tab.Cells {
		t.Errorf("table.json: complete %v, %d rows, %d of %d cells", tab.Complete, len(tab.Rows), tab.Finished, tab.Cells)
	}
	for _, r := range tab.Rows {
		if r.Score.N != len(tab.Seeds) || len(r.Scores) != r.Score.N || r.Pending != 0 || r.TrainableParams <= 0 {
			t.Errorf("row %+v", r)
		}
		if s := MeanStd(r.Scores); math.Abs(s.Mean-r.Score.Mean) > 1e-9 || math.Abs(s.Std-r.Score.Std) > 1e-9 || r.Score.Mean < 0 || r.Score.Mean > 100 {
			t.Errorf("row %s/%s/%d: score %+v of %v", r.Task, r.Method, r.Size, r.Score, r.Scores)
		}
	}
	f, err := os.Open(filepath.Join(out, TableCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != rows+1 || !slices.Equal(recs[0], CSVHeader) {
		t.Errorf("table.csv: %d records, %v", len(recs), err)
	}
	md, err := os.ReadFile(filepath.Join(out, TableMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tk, _ := glue.Lookup(task)
		if !bytes.Contains(md, []byte("## "+tk.Dir)) || !bytes.Contains(md, []byte(" ± ")) {
			t.Errorf("table.md lacks %s:\n%s", tk.Dir, md)
		}
		svg, err := os.ReadFile(filepath.Join(out, FigureName(task)+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(bytes.NewReader(svg))
		root := ""
		for root == "" {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("%s.svg: %v", task, err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				root = se.Name.Local
			}
		}
		for err == nil {
			_, err = dec.Token()
		}
		if root != "svg" || !errors.Is(err, io.EOF) {
			t.Errorf("%s.svg: root <%s>, %v", task, root, err)
		}
		pf, err := os.Open(filepath.Join(out, FigureName(task)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(pf)
		pf.Close()
		if err != nil || img.Bounds().Dx() < 300 || img.Bounds().Dy() < 200 {
			t.Errorf("%s.png: %v", task, err)
		}
	}
}

// runSweep runs a sweep, cancelling it at the first training step of the
// cell after cancelAfter cells have been run (0: never).
func runSweep(t *testing.T, cfg Config, cancelAfter int) (*Summary, []Progress, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var evs []Progress
	sum, err := Run(ctx, cfg, func(p Progress) {
		if p.Event != EventTrain || p.Train.Phase == finetune.PhaseTrain && p.Train.Step == 1 {
			evs = append(evs, p)
		}
		if cancelAfter > 0 && p.Event == EventTrain && p.Ran == cancelAfter && p.Train.Phase == finetune.PhaseTrain {
			cancel()
		}
	})
	return sum, evs, err
}

// testSweepResume runs a sweep, kills it (context cancellation in the
// middle of a cell) after k cells, reruns it and checks that only the
// rest ran and the finished cells' results are untouched; then checks the
// outputs.
func testSweepResume(t *testing.T, cfg Config, k, rows int) {
	total := len(cfg.Tasks) * len(cfg.Methods) * len(cfg.Sizes) * len(cfg.Seeds)
	sum, evs, err := runSweep(t, cfg, k)
	if !errors.Is(err, context.Canceled) || sum == nil || sum.Ran != k {
		t.Fatalf("interrupted sweep: ran %v, error %v", sum, err)
	}
	before := resultFiles(t, cfg.OutDir)
	if len(before) != k {
		t.Fatalf("%d result files after %d cells", len(before), k)
	}
	// The interrupted cell left finetune's checkpoint, not a result.
	cut := sum.Plan.Cells[k]
	if _, err := os.Stat(filepath.Join(cfg.OutDir, cut.Dir(), finetune.CheckpointFile)); err != nil {
		t.Errorf("interrupted cell %s: %v", cut, err)
	}
	if last := evs[len(evs)-1]; last.Done != k || last.Total != total || !last.ETAKnown || last.ETA <= 0 {
		t.Errorf("last progress before the interruption: %+v", last)
	}
	// Partial tables exist already.
	if b, err := os.ReadFile(filepath.Join(cfg.OutDir, TableJSON)); err != nil || !bytes.Contains(b, []byte(`"complete": false`)) {
		t.Errorf("partial table.json: %v\n%s", err, b)
	}
	time.Sleep(10 * time.Millisecond) // a rewrite would show in the modification time
	sum, evs, err = runSweep(t, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != total-k || sum.Skipped != k || sum.Failed != 0 {
		t.Errorf("rerun: ran %d, skipped %d, failed %d; want %d, %d, 0", sum.Ran, sum.Skipped, sum.Failed, total-k, k)
	}
	var started []string
	resumed := 0
	for _, e := range evs {
		if e.Event == EventStart {
			started = append(started, e.Cell.String())
		}
		if e.Event == EventDone && e.Result.Resumed {
			resumed++
		}
	}
	if len(started) != total-k || started[0] != cut.String() || resumed != 1 {
		t.Errorf("rerun started %d cells (first %v), %d resumed; want %d from %s, 1 resumed", len(started), started[:1], resumed, total-k, cut)
	}
	after := resultFiles(t, cfg.OutDir)
	if len(after) != total {
		t.Errorf("%d result files, want %d", len(after), total)
	}
	for p, st := range before {
		if a := after[p]; !bytes.Equal(a.data, st.data) || !a.mod.Equal(st.mod) {
			t.Errorf("%s changed by the rerun", p)
		}
	}
	for i, r := range sum.Results {
		c := sum.Plan.Cells[i]
		if r == nil || r.Status != StatusFinished || r.Test == nil || r.Subsample.Size != c.Size || len(r.Subsample.Lines) != c.Size ||
			r.Subsample.Seed != c.Seed || r.Steps != (c.Size+7)/8 {
			t.Fatalf("cell %s: %+v", c, r)
		}
		// The recorded subsample is what Draw gives.
		s, _, _ := Draw(c.task, cfg.DataDir, c.Seed, c.Size)
		if !slices.Equal(s.Lines, r.Subsample.Lines) || s.ExamplesSHA256 != r.Subsample.ExamplesSHA256 {
			t.Errorf("cell %s: stored subsample differs from Draw", c)
		}
		// Weights are pruned, finetune's report stays.
		for _, f := range []string{finetune.CheckpointFile, finetune.BestDir} {
			if _, err := os.Stat(filepath.Join(cfg.OutDir, c.Dir(), f)); !os.IsNotExist(err) {
				t.Errorf("cell %s keeps %s: %v", c, f, err)
			}
		}
		if _, err := os.Stat(filepath.Join(cfg.OutDir, c.Dir(), finetune.ReportJSON)); err != nil {
			t.Error(err)
		}
	}
	checkOutputs(t, cfg.OutDir, cfg.Tasks, rows)
	// A third run has nothing to do.
	if sum, _, err := runSweep(t, cfg, 0); err != nil || sum.Ran != 0 || sum.Skipped != total {
		t.Errorf("third run: %+v, %v", sum, err)
	}
	// Other settings are refused, not mixed.
	other := cfg
	other.Hyper.LR = ptr(3e-3)
	if _, err := Run(context.Background(), other, nil); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("rerun with another learning rate: %v", err)
	}
}

// TestSweepRealGLUE is the acceptance test: 2 tasks × 3 methods × 2 sizes
// × 2 seeds on real RTE and MRPC rows with the tiny model, interrupted
// after 5 cells and resumed.
func TestSweepRealGLUE(t *testing.T) {
	if _, err := os.Stat(filepath.Join(realGLUE, "MRPC")); err != nil {
		t.Skipf("real GLUE files not available (%v)", err)
	}
	cfg := tinyConfig(tinyModel(t), realGLUE, t.TempDir(), []string{"rte", "mrpc"},
		[]peft.Method{peft.FullFinetune, peft.Adapter, peft.Compacter}, []int{8, 16}, []uint64{1, 2})
	t0 := time.Now()
	testSweepResume(t, cfg, 5, 2*3*2)
	t.Logf("%v", time.Since(t0))
}

// TestSweepFixtures is the same on the generated RTE fixture (runs
// without ../shared), with Compacter++ and a clamped size.
func TestSweepFixtures(t *testing.T) {
	cfg := tinyConfig(tinyModel(t), fixtures, t.TempDir(), []string{"rte"},
		[]peft.Method{peft.Adapter, peft.CompacterPP}, []int{16, 64}, []uint64{7, 8})
	cfg.Clamp = true
	total := 2 * 2 * 2
	sum, _, err := runSweep(t, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != total || sum.Table.Rows[1].Size != 40 || !slices.Equal(sum.Table.Rows[1].Requested, []int{64}) {
		t.Fatalf("ran %d, rows %+v", sum.Ran, sum.Table.Rows)
	}
	checkOutputs(t, cfg.OutDir, cfg.Tasks, 4)
	md, _ := os.ReadFile(filepath.Join(cfg.OutDir, TableMarkdown))
	if !bytes.Contains(md, []byte("n = 40 (asked 64)")) || !bytes.Contains(md, []byte("sizes 64 exceed its 40 training examples")) {
		t.Errorf("table.md does not note the clamp:\n%s", md)
	}
}

// TestDivergedCellIsRecorded trains full fine-tuning at a learning rate
// of 1e30: the second step's loss is not finite, the cell is stored as
// failed (not an error of the sweep), counted in the table, marked in the
// Markdown and not rerun.
func TestDivergedCellIsRecorded(t *testing.T) {
	cfg := tinyConfig(tinyModel(t), fixtures, t.TempDir(), []string{"rte"}, []peft.Method{peft.FullFinetune, peft.Adapter},
		[]int{16}, []uint64{3})
	cfg.Hyper.LR = nil // each method's own rate, from PEFT:
	cfg.PEFT = func(m peft.Method) (peft.Config, error) {
		c, err := tinyPEFT(m)
		c.LearningRate = map[peft.Method]float64{peft.FullFinetune: 1e30, peft.Adapter: 1e-2}[m]
		return c, err
	}
	sum, _, err := runSweep(t, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Results[0]
	if ok := sum.Results[1]; ok.Status != StatusFinished || ok.Test == nil || ok.Settings.Hyper.LR != 1e-2 {
		t.Errorf("the adapter cell: %+v", ok)
	}
	if sum.Failed != 1 || r.Status != StatusFailed || !strings.Contains(r.Error, "non-finite") || r.Test != nil {
		t.Fatalf("failed %d, first cell %+v", sum.Failed, r)
	}
	if row := sum.Table.Rows[0]; row.Failed != 1 || row.Score.N != 0 || sum.Table.Failed != sum.Failed || !sum.Table.Complete {
		t.Errorf("table %+v, row %+v", sum.Table, row)
	}
	md, _ := os.ReadFile(filepath.Join(cfg.OutDir, TableMarkdown))
	if !bytes.Contains(md, []byte("– (0/1) †")) {
		t.Errorf("table.md does not mark the failed cell:\n%s", md)
	}
	again, _, err := runSweep(t, cfg, 0)
	if err != nil || again.Ran != 0 || again.Failed != sum.Failed {
		t.Errorf("rerun: %+v, %v", again, err)
	}
}
