package peft

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/fastfood"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

func loadBase(t *testing.T, be kernels.Backend) (*t5.Model, t5.Batch) {
	t.Helper()
	m, err := t5.Load(baseDir, be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, err := t5.LoadBatch(filepath.Join(baseDir, "batch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

func logits(t *testing.T, m *t5.Model, b t5.Batch) []float32 {
	t.Helper()
	ps, err := m.Forward(b, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Release()
	return kerneltest.Download(t, m.Backend, ps.Logits)
}

// TestSaveLoad trains every method one step from a fresh (seeded)
// initialisation, saves it, loads it onto a fresh base and expects the
// same logits bit for bit; it also loads each official reference folder
// with Load and expects the reference case's tensors.
func TestSaveLoad(t *testing.T) {
	be := openBackend(t, "cpu")
	for _, meth := range Methods {
		t.Run(string(meth), func(t *testing.T) {
			m, batch := loadBase(t, be)
			c, err := Default(meth)
			if err != nil {
				t.Fatal(err)
			}
			c.ReductionFactor, c.PrefixDim, c.IntrinsicDim, c.PHMDim = 4, 3, 120, 4
			c.TaskAdapterLayersEncoder, c.TaskAdapterLayersDecoder = nil, nil
			a, err := Apply(m, c, 42)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := t5.NewTrainer(m, t5.TrainConfig{LR: c.LearningRate})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if _, err := tr.Step([]t5.Batch{batch}); err != nil {
				t.Fatal(err)
			}
			want := logits(t, m, batch)
			dir := t.TempDir()
			if err := a.Save(dir); err != nil {
				t.Fatal(err)
			}
			m2, _ := loadBase(t, be)
			a2, err := Load(dir, m2)
			if err != nil {
				t.Fatal(err)
			}
			if a2.Trainable() != a.Trainable() || a2.Total() != a.Total() {
				t.Errorf("loaded %d/%d parameters, saved %d/%d", a2.Trainable(), a2.Total(), a.Trainable(), a.Total())
			}
			if got := logits(t, m2, batch); !slices.Equal(got, want) {
				t.Error("logits of the loaded method differ from the saved one's")
			}
			if meth != FullFinetune {
				if err := a2.Remove(); err != nil {
					t.Fatal(err)
				}
				m3, _ := loadBase(t, be)
				if got, base := logits(t, m2, batch), logits(t, m3, batch); !slices.Equal(got, base) {
					t.Error("Remove does not restore the base model")
				}
			}

			// The official layout.
			m4, _ := loadBase(t, be)
			a4, err := Load(caseDir(meth), m4)
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := loadCase(t, be, meth)
			if got, want := logits(t, m4, batch), logits(t, ref.Model, batch); !slices.Equal(got, want) {
				t.Error("Load of the official folder differs from the reference case")
			}
			if meth == IntrinsicSAID {
				if err := a4.Save(t.TempDir()); err == nil {
					t.Error("Save of imported SAID projections succeeded")
				}
			}
		})
	}
}

// TestMerge folds a trained seeded Intrinsic-SAID into the weights.
func TestMerge(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch := loadBase(t, be)
	c, _ := Default(IntrinsicSAID)
	c.IntrinsicDim = 120
	a, err := Apply(m, c, 3)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := t5.NewTrainer(m, t5.TrainConfig{LR: c.LearningRate})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Step([]t5.Batch{batch}); err != nil {
		t.Fatal(err)
	}
	want := logits(t, m, batch)
	if err := a.Merge(); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Params); n != 47 {
		t.Errorf("%d parameters after the merge, want the 47 of T5", n)
	}
	if got := logits(t, m, batch); !slices.Equal(got, want) {
		t.Error("merged logits differ")
	}
	base, _ := loadBase(t, be)
	if slices.Equal(logits(t, base, batch), want) {
		t.Error("the trained SAID did not change the model")
	}
	for _, meth := range Methods {
		c, _ := Default(meth)
		if CanMerge(c) != (meth == FullFinetune || meth == IntrinsicSAID) {
			t.Errorf("CanMerge(%s) = %v", meth, CanMerge(c))
		}
	}
}

// TestSAIDStateVersion checks that Intrinsic-SAID records the version of
// its projections' random state: Apply resolves 0 to the latest, Save
// writes it, Load reads it back, and a saved configuration without it
// (written before versions were recorded) loads with version 1, whose
// projections differ from version 2's.
func TestSAIDStateVersion(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch := loadBase(t, be)
	c, _ := Default(IntrinsicSAID)
	c.IntrinsicDim = 120
	a, err := Apply(m, c, 5)
	if err != nil {
		t.Fatal(err)
	}
	if a.Config.SAIDState != int(fastfood.LatestState) {
		t.Fatalf("Apply recorded version %d, want %d", a.Config.SAIDState, fastfood.LatestState)
	}
	theta := make([]float32, a.said.theta.Len())
	for i := range theta {
		theta[i] = float32(i%7) - 3
	}
	if err := be.Upload(a.said.theta.W, theta); err != nil {
		t.Fatal(err)
	}
	if err := a.said.Project(); err != nil {
		t.Fatal(err)
	}
	want := logits(t, m, batch)
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"said_state": 2`) {
		t.Fatalf("adapter_config.json does not record the state version:\n%s", data)
	}
	load := func() ([]float32, int) {
		m2, _ := loadBase(t, be)
		a2, err := Load(dir, m2)
		if err != nil {
			t.Fatal(err)
		}
		return logits(t, m2, batch), a2.Config.SAIDState
	}
	if got, v := load(); v != 2 || !slices.Equal(got, want) {
		t.Fatalf("reload: version %d, same logits %v", v, slices.Equal(got, want))
	}
	old := strings.Replace(string(data), `"said_state": 2`, `"said_state": 0`, 1)
	if err := os.WriteFile(cfgPath, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, v := load()
	if v != 1 {
		t.Fatalf("a configuration without a version loaded as version %d, want 1", v)
	}
	if slices.Equal(got, want) {
		t.Fatal("version 1 projections give version 2's logits")
	}
	c.SAIDState = 7
	m3, _ := loadBase(t, be)
	if _, err := Apply(m3, c, 5); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown state version: %v, want ErrConfig", err)
	}
}
