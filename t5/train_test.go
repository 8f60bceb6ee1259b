package t5

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrainingMatchesReference(t *testing.T) {
	for _, c := range refCases {
		t.Run(c, func(t *testing.T) {
			be := openBackend(t, "cpu")
			m, batch, _ := loadRef(t, be, c)
			data, err := os.ReadFile(filepath.Join(refDir(c), "train.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Losses []float64 `json:"losses_before_step"`
				Last   float64   `json:"loss_after_last_step"`
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(m, TrainConfig{LR: 1e-3, WeightDecay: 0.01})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			worst := 0.0
			for i, w := range want.Losses {
				r, err := tr.Step([]Batch{batch})
				if err != nil {
					t.Fatal(err)
				}
				d := math.Abs(r.Loss - w)
				worst = max(worst, d)
				if d > 1e-5 {
					t.Errorf("loss before step %d = %.7f, want %.7f", i+1, r.Loss, w)
				}
			}
			ps, err := m.Forward(batch, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Release()
			d := math.Abs(ps.Loss - want.Last)
			worst = max(worst, d)
			if d > 1e-5 {
				t.Errorf("loss after the last step = %.7f, want %.7f", ps.Loss, want.Last)
			}
			t.Logf("6 losses, max |Δ| %.2g", worst)
		})
	}
}

// Accumulating the same batch twice must give the gradient of one batch.
func TestGradientAccumulationAndClipping(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-relu")
	tr, err := NewTrainer(m, TrainConfig{LR: 0, MaxGradNorm: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r1, err := tr.Step([]Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	g1 := download(t, be, m.shared.G)
	r2, err := tr.Step([]Batch{batch, batch})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r1.Loss-r2.Loss) > 1e-6 || math.Abs(r1.GradNorm-r2.GradNorm) > 1e-5*r1.GradNorm {
		t.Errorf("accumulated step: loss %v norm %v, single: loss %v norm %v", r2.Loss, r2.GradNorm, r1.Loss, r1.GradNorm)
	}
	closeTo(t, "accumulated gradient", download(t, be, m.shared.G), g1, 1e-7, 1e-5)

	// Clipping to half the norm halves every gradient.
	tr.cfg.MaxGradNorm = r1.GradNorm / 2
	if _, err := tr.Step([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	half := make([]float32, len(g1))
	for i, g := range g1 {
		half[i] = g / 2
	}
	closeTo(t, "clipped gradient", download(t, be, m.shared.G), half, 1e-7, 1e-5)
	norm, err := tr.GradNorm()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(norm-r1.GradNorm/2) > 1e-4*r1.GradNorm {
		t.Errorf("clipped norm %v, want %v", norm, r1.GradNorm/2)
	}
}

func TestLinearSchedule(t *testing.T) {
	tr := &Trainer{cfg: TrainConfig{LR: 1, WarmupSteps: 2, TotalSteps: 6}}
	want := []float64{0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0}
	for s, w := range want {
		if got := tr.LR(s); math.Abs(got-w) > 1e-12 {
			t.Errorf("LR(%d) = %v, want %v", s, got, w)
		}
	}
}

// Frozen parameters get no buffers and no updates; the trainable ones get
// the same gradients as in the full model, also when the whole encoder is
// frozen and its backward skipped.
func TestFrozenParameters(t *testing.T) {
	for _, trainable := range []string{"decoder.block.1.", "encoder.block.0.layer.1.", "lm_head.", "decoder.block.0.layer.0.SelfAttention.relative", "encoder.final"} {
		t.Run(trainable, func(t *testing.T) { testFrozen(t, trainable) })
	}
}

func testFrozen(t *testing.T, trainable string) {
	be := openBackend(t, "cpu")
	m, batch, exp := loadRef(t, be, "tiny-gated")
	frozen := func(name string) bool { return !strings.HasPrefix(name, trainable) }
	if err := m.Freeze(frozen, true); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for _, p := range m.Params {
		if frozen(p.Name) != p.Frozen() {
			t.Fatalf("%s: Frozen() = %v", p.Name, p.Frozen())
		}
		before[p.Name] = download(t, be, p.W)
	}
	tr, err := NewTrainer(m, TrainConfig{LR: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Step([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params {
		if p.Frozen() {
			if p.M != nil || p.V != nil {
				t.Errorf("%s: frozen parameter has optimizer state", p.Name)
			}
			continue
		}
		want, err := exp.Float32("grad/"+p.Name, p.Shape)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, p.Name, download(t, be, p.G), want, 1e-4*maxAbs(want)+1e-6, 0)
	}
	// One step with a real LR moves only the trainable parameters.
	tr.cfg.LR = 1e-2
	if _, err := tr.Step([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params {
		after := download(t, be, p.W)
		same := true
		for i := range after {
			if after[i] != before[p.Name][i] {
				same = false
				break
			}
		}
		if same != p.Frozen() {
			t.Errorf("%s: frozen %v but unchanged %v", p.Name, p.Frozen(), same)
		}
	}
}
