package finetune

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"

	_ "github.com/compacter-go/compacter/cpu" // the cpu backend
)

var (
	spmPath  = filepath.Join("..", "..", "testdata", "tokenizer", "spiece.model")
	realGLUE = filepath.Join("..", "..", "..", "shared", "glue")
	fixtures = filepath.Join("..", "glue", "testdata")
)

func loadTok(t *testing.T) *tokenizer.T5 {
	t.Helper()
	spm, err := tokenizer.Load(spmPath)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.NewT5(spm)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tinyModel is a T5 with generated weights whose vocabulary is the
// reference SentencePiece model's (2000 pieces + 100 sentinels).
func tinyModel(t *testing.T, tok *tokenizer.T5, dropout float64) *t5.Model {
	t.Helper()
	be, err := kernels.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	cfg := t5.DefaultConfig()
	cfg.VocabSize, cfg.DModel, cfg.DKV, cfg.DFF, cfg.NumHeads = tok.VocabSize(), 48, 12, 96, 4
	cfg.NumLayers, cfg.NumDecoderLayers, cfg.RelativeAttentionNumBuckets = 2, 2, 8
	cfg.DropoutRate = dropout
	m, err := t5.New(cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.InitWeights(7); err != nil {
		t.Fatal(err)
	}
	return m
}

// tinyPEFT is the paper's setting of a method scaled to the tiny model:
// bottleneck 12 (reduction factor 4), AdapterDrop on block 1 of 2, a prompt
// of 10, an intrinsic dimension of 1000.
func tinyPEFT(t *testing.T, method peft.Method) *peft.Config {
	t.Helper()
	c, err := peft.Default(method)
	if err != nil {
		t.Fatal(err)
	}
	c.ReductionFactor, c.PrefixDim, c.IntrinsicDim = 4, 10, 1000
	if method == peft.AdapterDrop {
		c.TaskAdapterLayersEncoder, c.TaskAdapterLayersDecoder = []int{1}, []int{1}
	}
	return &c
}

// trainLR is a learning rate per method at which a few steps on one batch
// reliably lower the loss of the tiny model.
func trainLR(method peft.Method) float64 {
	switch method {
	case peft.PromptTuning:
		return 1
	case peft.IntrinsicSAID, peft.CompacterPP:
		return 3e-2
	}
	return 1e-2
}

// TestLossDecreasesEveryMethod is the end-to-end test: a tiny T5 trained
// on a slice of the real RTE data with every method (and full
// fine-tuning), one batch of 8 examples repeated; the mean loss of the
// last two steps must be at least 5 % below that of the first two.
func TestLossDecreasesEveryMethod(t *testing.T) {
	if _, err := os.Stat(filepath.Join(realGLUE, "RTE")); err != nil {
		t.Skipf("real GLUE files not available (%v)", err)
	}
	tok := loadTok(t)
	steps, maxLen := 10, 64
	if testing.Short() {
		steps, maxLen = 6, 40
	}
	for _, method := range peft.Methods {
		t.Run(string(method), func(t *testing.T) {
			m := tinyModel(t, tok, 0)
			var losses []float64
			rep, err := Run(context.Background(), Config{Model: m, Tokenizer: tok, PEFT: tinyPEFT(t, method),
				Task: "rte", DataDir: realGLUE, OutDir: t.TempDir(), Seed: 42, TrainSamples: 8, EvalSamples: 4,
				Hyper: &Hyper{LR: trainLR(method), Epochs: steps, Batch: 8, MaxLen: maxLen, MaxGradNorm: 1}},
				func(p Progress) {
					if p.Phase == PhaseTrain {
						losses = append(losses, p.Loss)
					}
				})
			if err != nil {
				t.Fatal(err)
			}
			if len(losses) != steps || rep.Status != StatusFinished || rep.Test == nil || len(rep.Epochs) != steps {
				t.Fatalf("%d steps, status %q, %d epochs", len(losses), rep.Status, len(rep.Epochs))
			}
			k := 2
			first, last := mean(losses[:k]), mean(losses[len(losses)-k:])
			t.Logf("loss %.4f -> %.4f (%v)", first, last, losses)
			if !(last < 0.95*first) {
				t.Errorf("loss did not go down: first steps %.4f, last steps %.4f", first, last)
			}
		})
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// checkpointTensors reads every tensor of a checkpoint.
func checkpointTensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := t5.OpenTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, n := range f.Names() {
		shape, _ := f.Shape(n)
		v, err := f.Float32(n, shape)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = v
	}
	return out
}

// TestResumeEqualsUninterrupted trains N steps in one go, and k steps then
// N−k more after a resume from the checkpoint (in the middle of an epoch,
// with dropout on), and requires the same weights and optimizer state.
func TestResumeEqualsUninterrupted(t *testing.T) {
	tok := loadTok(t)
	const n, k = 5, 3
	for _, method := range []peft.Method{peft.Compacter, peft.IntrinsicSAID} {
		t.Run(string(method), func(t *testing.T) {
			cfg := func(dir string, maxSteps int, resume bool) Config {
				return Config{Model: tinyModel(t, tok, 0.1), Tokenizer: tok, PEFT: tinyPEFT(t, method), Task: "mnli",
					DataDir: fixtures, OutDir: dir, Seed: 3, MaxSteps: maxSteps, Resume: resume,
					Hyper: &Hyper{LR: 1e-2, Epochs: 4, Batch: 2, Warmup: 2, MaxLen: 128, MaxGradNorm: 1}}
			}
			one, two := t.TempDir(), t.TempDir()
			if rep, err := Run(context.Background(), cfg(one, n, false), nil); err != nil || rep.Status != StatusMaxSteps || rep.Steps != n {
				t.Fatalf("uninterrupted: %+v, %v", rep, err)
			}
			if _, err := Run(context.Background(), cfg(two, k, false), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := Run(context.Background(), cfg(two, k, false), nil); err == nil || !strings.Contains(err.Error(), "already holds a checkpoint") {
				t.Errorf("rerun without --resume: %v", err)
			}
			rep, err := Run(context.Background(), cfg(two, n, true), nil)
			if err != nil || rep.Steps != n || len(rep.Epochs) != 2 {
				t.Fatalf("resumed: %+v, %v", rep, err)
			}
			a, b := checkpointTensors(t, filepath.Join(one, CheckpointFile)), checkpointTensors(t, filepath.Join(two, CheckpointFile))
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("%d and %d tensors", len(a), len(b))
			}
			for name, va := range a {
				vb := b[name]
				for i := range va {
					if va[i] != vb[i] {
						t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", name, i, va[i], vb[i])
					}
				}
			}
			c := cfg(two, n, true)
			c.Hyper = &Hyper{LR: 2e-2, Epochs: 4, Batch: 2, Warmup: 2, MaxLen: 128, MaxGradNorm: 1}
			if _, err := Run(context.Background(), c, nil); err == nil || !strings.Contains(err.Error(), "other settings") {
				t.Errorf("resume with another learning rate: %v", err)
			}
		})
	}
}

// TestNaNStopKeepsCheckpoint makes the loss of step 5 NaN: the run stops
// with ErrNonFinite, and the checkpoint on disk is the one of step 4, equal
// to that of a run stopped cleanly after 4 steps.
func TestNaNStopKeepsCheckpoint(t *testing.T) {
	tok := loadTok(t)
	cfg := func(dir string) Config {
		return Config{Model: tinyModel(t, tok, 0), Tokenizer: tok, PEFT: tinyPEFT(t, peft.Adapter), Task: "mnli",
			DataDir: fixtures, OutDir: dir, Seed: 1, SaveEvery: 2, Hyper: &Hyper{LR: 3e-4, Epochs: 5, Batch: 1, Warmup: 2, MaxLen: 128}}
	}
	dir := t.TempDir()
	c := cfg(dir)
	c.lossHook = func(step int, loss float64) float64 {
		if step == 4 {
			return math.NaN()
		}
		return loss
	}
	rep, err := Run(context.Background(), c, nil)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 5") {
		t.Fatalf("error %v, want ErrNonFinite at step 5", err)
	}
	if rep.Status != "failed" || rep.Error == "" {
		t.Errorf("report status %q, error %q", rep.Status, rep.Error)
	}
	st, err := readState(filepath.Join(dir, CheckpointFile))
	if err != nil || st.Step != 4 {
		t.Fatalf("checkpoint state step %d, %v; want 4", st.Step, err)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary checkpoint left behind: %v", err)
	}
	ref := t.TempDir()
	c = cfg(ref)
	c.MaxSteps = 4
	if _, err := Run(context.Background(), c, nil); err != nil {
		t.Fatal(err)
	}
	got, want := checkpointTensors(t, filepath.Join(dir, CheckpointFile)), checkpointTensors(t, filepath.Join(ref, CheckpointFile))
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for name, v := range want {
		for i := range v {
			if v[i] != got[name][i] {
				t.Fatalf("%s[%d] = %v after the NaN, %v in a clean 4-step run", name, i, got[name][i], v[i])
			}
		}
	}
}

// TestInterruptSavesAndResumes cancels the context after two steps: Run
// saves a checkpoint and returns the cancellation; a resume finishes.
func TestInterruptSavesAndResumes(t *testing.T) {
	tok := loadTok(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Model: tinyModel(t, tok, 0), Tokenizer: tok, PEFT: tinyPEFT(t, peft.BitFit), Task: "mnli",
		DataDir: fixtures, OutDir: dir, Seed: 1, Hyper: &Hyper{LR: 3e-4, Epochs: 2, Batch: 1, MaxLen: 128}}
	rep, err := Run(ctx, cfg, func(p Progress) {
		if p.Step == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || rep.Status != StatusInterrupted || rep.Steps != 2 {
		t.Fatalf("interrupted run: %v, %+v", err, rep)
	}
	cfg.Resume = true
	rep, err = Run(context.Background(), cfg, nil)
	if err != nil || rep.Status != StatusFinished || rep.Steps != 6 || len(rep.Epochs) != 2 || rep.Test == nil {
		t.Fatalf("resumed run: %v, %+v", err, rep)
	}
	for _, f := range []string{ReportJSON, ReportMarkdown, filepath.Join(BestDir, peft.ConfigFile), filepath.Join(BestDir, peft.TensorsFile)} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	if !strings.Contains(string(md), "| 2 | 6 |") || !strings.Contains(string(md), "## Test") {
		t.Errorf("report.md:\n%s", md)
	}
	// The best adapter loads onto a fresh base.
	m := tinyModel(t, tok, 0)
	a, err := peft.Load(filepath.Join(dir, BestDir), m)
	if err != nil {
		t.Fatal(err)
	}
	mnli, _ := glue.Lookup("mnli")
	ex, _, _ := mnli.ReadFile(filepath.Join(fixtures, "MNLI", "dev_matched.tsv"))
	r, pred, err := Evaluate(m, tok, mnli, ex, 2, 64)
	if err != nil || len(pred) != len(ex) || r.N != len(ex) {
		t.Fatalf("Evaluate: %+v %q %v", r, pred, err)
	}
	if a.Config.Method != peft.BitFit {
		t.Errorf("best adapter is %s", a.Config.Method)
	}
}

func TestDefaults(t *testing.T) {
	rte, _ := glue.Lookup("rte")
	sst, _ := glue.Lookup("sst2")
	for _, c := range []struct {
		m      peft.Method
		task   *glue.Task
		lr     float64
		epochs int
		micro  int
	}{{peft.Compacter, rte, 3e-3, 20, 100}, {peft.FullFinetune, sst, 3e-4, 3, 100},
		{peft.PromptTuning, rte, 3e-1, 20, 50}, {peft.IntrinsicSAID, sst, 3e-2, 3, 50}} {
		h, err := Defaults(c.m, c.task)
		if err != nil || h.LR != c.lr || h.Epochs != c.epochs || h.Batch != 100 || h.MicroBatch != c.micro || h.Warmup != 500 || h.MaxLen != 128 || h.MaxGradNorm != 1 {
			t.Errorf("%s on %s: %+v, %v", c.m, c.task.Name, h, err)
		}
	}
	for _, h := range []Hyper{{LR: 1, Epochs: 1, Batch: 4, MicroBatch: 8, MaxLen: 8}, {LR: 0, Epochs: 1, Batch: 1, MaxLen: 8},
		{LR: 1, Epochs: 1, Batch: 1, MaxLen: 1}, {LR: 1, Epochs: 1, Batch: 1, MaxLen: 8, Warmup: -1}} {
		if _, err := h.validate(); err == nil {
			t.Errorf("%+v accepted", h)
		}
	}
}
