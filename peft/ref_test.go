package peft

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"

	"github.com/compacter-go/compacter/cpu" // cpu and purego backends
)

// supported are the reference cases that Apply implements.
var supported = []Method{FullFinetune, Adapter, Pfeiffer, AdapterDrop, AdapterLowRank, PHMAdapter, Compacter, CompacterPP, BitFit, PromptTuning, IntrinsicSAID}

var baseDir = filepath.Join("..", "testdata", "t5", "tiny-relu")

func caseDir(m Method) string { return filepath.Join("..", "testdata", "peft", string(m)) }

func openBackend(t testing.TB, name string) kernels.Backend {
	t.Helper()
	b, err := kernels.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// loadCase loads the base model with the reference case's method and
// tensors applied.
func loadCase(t testing.TB, be kernels.Backend, meth Method) (*Applied, t5.Batch) {
	t.Helper()
	m, err := t5.Load(baseDir, be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c, err := LoadOfficial(filepath.Join(caseDir(meth), "peft.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Apply(m, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.LoadTensors(filepath.Join(caseDir(meth), "peft.safetensors")); err != nil {
		t.Fatal(err)
	}
	b, err := t5.LoadBatch(filepath.Join(baseDir, "batch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

type trainableJSON struct {
	Trainable []string       `json:"trainable"`
	Count     int64          `json:"count"`
	Numel     map[string]int `json:"numel"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// TestReference checks every supported method against the official
// code's reference case: the trainable tensors and their count, logits,
// encoder output and loss, the gradient of every trainable tensor, and the
// losses of 5 AdamW steps, with the tolerances of the reference README.
func TestReference(t *testing.T) {
	for _, bn := range kerneltest.Backends() {
		for _, meth := range supported {
			t.Run(bn+"/"+string(meth), func(t *testing.T) {
				be := openBackend(t, bn)
				a, batch := loadCase(t, be, meth)
				m := a.Model
				var tj trainableJSON
				readJSON(t, filepath.Join(caseDir(meth), "trainable.json"), &tj)
				var names []string
				for _, p := range a.Trainables {
					names = append(names, p.Name)
				}
				if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(tj.Trainable))) {
					t.Fatalf("trainable tensors %v, want %v", names, tj.Trainable)
				}
				if a.Trainable() != tj.Count {
					t.Errorf("Trainable() = %d, want %d", a.Trainable(), tj.Count)
				}
				if n, _, err := Count(m.Config, a.Config); err != nil || n != tj.Count {
					t.Errorf("Count = %d, %v, want %d", n, err, tj.Count)
				}

				exp, err := t5.OpenTensors(filepath.Join(caseDir(meth), "expected.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				defer exp.Close()
				ps, err := m.Forward(batch, true)
				if err != nil {
					t.Fatal(err)
				}
				defer ps.Release()
				wl, err := exp.Float32("logits", []int{batch.B, batch.T, m.Config.VocabSize})
				if err != nil {
					t.Fatal(err)
				}
				dl := kerneltest.CloseTo(t, "logits", kerneltest.Download(t, be, ps.Logits), wl, 1e-5, 1e-4)
				S := batch.S
				if meth == PromptTuning {
					S += a.Config.PrefixDim
				}
				wh, err := exp.Float32("encoder_last_hidden_state", []int{batch.B, S, m.Config.DModel})
				if err != nil {
					t.Fatal(err)
				}
				dh := kerneltest.CloseTo(t, "encoder_last_hidden_state", kerneltest.Download(t, be, ps.EncoderOut), wh, 1e-5, 1e-4)
				wloss, err := exp.Float32("loss", []int{})
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(ps.Loss - float64(wloss[0])); d > 1e-5 {
					t.Errorf("loss = %v, want %v", ps.Loss, wloss[0])
				}
				if err := m.ZeroGrad(); err != nil {
					t.Fatal(err)
				}
				if err := ps.Backward(); err != nil {
					t.Fatal(err)
				}
				if err := a.Pullback(); err != nil {
					t.Fatal(err)
				}
				worstRel := 0.0
				for _, p := range a.Trainables {
					want, err := exp.Float32("grad/"+p.Name, p.Shape)
					if err != nil {
						t.Fatal(err)
					}
					got := kerneltest.Download(t, be, p.G)
					scale := kerneltest.MaxAbs(want)
					d := kerneltest.CloseTo(t, "grad/"+p.Name, got, want, 1e-4*scale+1e-6, 0)
					if scale > 1e-6 { // BitFit k.bias gradients are float32 noise
						worstRel = max(worstRel, d/scale)
					}
				}

				var tr struct {
					Losses []float64 `json:"losses_before_step"`
					After  float64   `json:"loss_after_last_step"`
				}
				readJSON(t, filepath.Join(caseDir(meth), "train.json"), &tr)
				trainer, err := t5.NewTrainer(m, t5.TrainConfig{LR: a.Config.LearningRate, WeightDecay: 0.01})
				if err != nil {
					t.Fatal(err)
				}
				defer trainer.Close()
				worstTrain := 0.0
				for i, want := range tr.Losses {
					res, err := trainer.Step([]t5.Batch{batch})
					if err != nil {
						t.Fatal(err)
					}
					d := math.Abs(res.Loss - want)
					worstTrain = max(worstTrain, d)
					if d > 1e-5 {
						t.Errorf("loss before step %d = %v, want %v", i, res.Loss, want)
					}
				}
				after, err := m.Forward(batch, false)
				if err != nil {
					t.Fatal(err)
				}
				defer after.Release()
				if d := math.Abs(after.Loss - tr.After); d > 1e-5 {
					t.Errorf("loss after the last step = %v, want %v", after.Loss, tr.After)
				} else {
					worstTrain = max(worstTrain, d)
				}
				t.Logf("max |Δ| logits %.2g, encoder %.2g; gradients max |Δ|/max|ref| %.2g; training losses %.2g", dl, dh, worstRel, worstTrain)
			})
		}
	}
}

// TestReferenceUninitNeverRead runs TestReference with the cpu backends
// poisoning every buffer allocated without zeroing (NaN), so a read before a
// write anywhere in a method's forward, backward or optimizer steps fails.
func TestReferenceUninitNeverRead(t *testing.T) {
	defer cpu.SetPoisonUninit(cpu.SetPoisonUninit(true))
	TestReference(t)
}
