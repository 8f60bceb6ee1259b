package peft

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/compacter-go/compacter/fastfood"
	"github.com/compacter-go/compacter/t5"
)

// File names of a saved method.
const (
	ConfigFile  = "adapter_config.json"
	TensorsFile = "adapter_model.safetensors"
)

// savedConfig is the content of adapter_config.json.
type savedConfig struct {
	Config
	// Seed reproduces the initialisation and Intrinsic-SAID's projections.
	Seed uint64 `json:"seed"`
}

// Save writes the method's configuration (adapter_config.json) and its
// trained tensors (adapter_model.safetensors, official names) into dir,
// creating it. Only the trainable tensors are written; Load puts them back
// onto a base checkpoint. Intrinsic-SAID with projections imported from
// the official code (LoadTensors of its fastfood state) cannot be saved:
// its projections are not reproducible from a seed.
func (a *Applied) Save(dir string) error {
	if a.said != nil && a.said.imported {
		return errors.New("peft: Intrinsic-SAID with imported Fastfood projections cannot be saved")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("peft: %w", err)
	}
	cj, err := json.MarshalIndent(savedConfig{a.Config, a.seed}, "", "  ")
	if err != nil {
		return fmt.Errorf("peft: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), append(cj, '\n'), 0o644); err != nil {
		return fmt.Errorf("peft: %w", err)
	}
	ts, err := a.Tensors()
	if err != nil {
		return err
	}
	return t5.WriteTensors(filepath.Join(dir, TensorsFile), ts, map[string]string{"format": "pt", "method": string(a.Config.Method)})
}

// Tensors returns a host copy of every trainable tensor of the method,
// by its official name: what Save writes.
func (a *Applied) Tensors() (map[string]t5.Tensor, error) {
	ts := make(map[string]t5.Tensor, len(a.Trainables))
	for _, p := range a.Trainables {
		v := make([]float32, p.Len())
		if err := a.Model.Backend.Download(v, p.W); err != nil {
			return nil, fmt.Errorf("peft: %s: %w", p.Name, err)
		}
		ts[p.Name] = t5.Tensor{Shape: slices.Clone(p.Shape), F32: v}
	}
	return ts, nil
}

// Load applies a saved method to a base model m: either our layout
// (adapter_config.json + adapter_model.safetensors, written by Save) or
// the official code's as in the reference data (peft.json with its option
// names + peft.safetensors with its tensor names, and for Intrinsic-SAID
// its Fastfood state).
func Load(dir string, m *t5.Model) (*Applied, error) {
	var c Config
	var seed uint64
	tensors := filepath.Join(dir, TensorsFile)
	if data, err := os.ReadFile(filepath.Join(dir, ConfigFile)); err == nil {
		var sc savedConfig
		if err := json.Unmarshal(data, &sc); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, filepath.Join(dir, ConfigFile), err)
		}
		c, seed = sc.Config, sc.Seed
		if c.Method == IntrinsicSAID && c.SAIDState == 0 {
			c.SAIDState = int(fastfood.StateV1) // saved before the version was recorded
		}
	} else if c, err = LoadOfficial(filepath.Join(dir, "peft.json")); err == nil {
		tensors = filepath.Join(dir, "peft.safetensors")
	} else {
		return nil, fmt.Errorf("peft: %s holds neither %s nor a readable peft.json: %w", dir, ConfigFile, err)
	}
	a, err := Apply(m, c, seed)
	if err != nil {
		return nil, err
	}
	if c.Method == FullFinetune {
		if _, err := os.Stat(tensors); err != nil {
			return a, nil // the official full-finetune case holds no tensors
		}
	}
	if err := a.LoadTensors(tensors); err != nil {
		a.Remove()
		return nil, err
	}
	return a, nil
}

// CanMerge reports whether a method's trained state folds into plain T5
// weights, leaving a model without extra tensors or computation:
// full fine-tuning (it is the weights) and Intrinsic-SAID (θ = θ0 +
// λ·P(θ_d) is a weight update; not under SAIDTiedHeadAtTheta0, where the
// head and the embedding differ). Adapters (Houlsby, Pfeiffer, AdapterDrop,
// LowRank, PHM, Compacter, Compacter++) have a non-linearity between their
// projections, so even their PHM or low-rank products do not fold into a
// dense update; BitFit needs biases that T5 lacks; prompt tuning changes
// the input.
func CanMerge(c Config) bool {
	return c.Method == FullFinetune || (c.Method == IntrinsicSAID && !c.SAIDTiedHeadAtTheta0)
}

// Merge folds a mergeable method (CanMerge) into the model's weights and
// removes it: the model is then a plain T5 with the trained weights, all
// frozen.
func (a *Applied) Merge() error {
	if !CanMerge(a.Config) {
		return fmt.Errorf("peft: %s cannot be merged", a.Config.Method)
	}
	m := a.Model
	if a.said != nil {
		if err := a.said.Project(); err != nil {
			return err
		}
		m.SetReparam(nil)
		for _, p := range a.said.base {
			p.Derived = false
		}
		if a.said.dev != nil { // the device path's θ0 and scratch are no longer needed
			if err := a.said.dev.free(m.Backend); err != nil {
				return err
			}
			a.said.dev = nil
		}
		a.said = nil
	}
	if err := a.Remove(); err != nil {
		return err
	}
	return m.Freeze(func(string) bool { return true }, true)
}
