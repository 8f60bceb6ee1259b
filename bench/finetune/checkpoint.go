package finetune

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

// Names in OutDir.
const (
	CheckpointFile = "checkpoint.safetensors"
	BestDir        = "best"
	ReportJSON     = "report.json"
	ReportMarkdown = "report.md"
)

// Tensor name prefixes of the AdamW moments in a checkpoint (the trained
// tensors keep their own names, so peft's LoadTensors reads them).
const (
	prefixM = "optimizer.exp_avg/"
	prefixV = "optimizer.exp_avg_sq/"
)

// state is the trainer state stored in a checkpoint's metadata.
type state struct {
	// Fingerprint identifies the run's settings; a resume must match it.
	Fingerprint string `json:"fingerprint"`
	// Step is the number of optimizer steps taken; Epoch the current epoch
	// (from 0) and Pos the next position in its example order.
	Step  int `json:"step"`
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"`
	// The current epoch's running loss sum, steps and training seconds.
	EpochLoss    float64 `json:"epoch_loss"`
	EpochSteps   int     `json:"epoch_steps"`
	EpochSeconds float64 `json:"epoch_seconds"`
	// Report holds the finished epochs.
	Report Report `json:"report"`
}

// writeAtomic writes a file through write(tmp), syncs it and renames it to
// path, so that path always holds a complete version.
func writeAtomic(path string, write func(tmp string) error) error {
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("finetune: %w", err)
	}
	return nil
}

// saveCheckpoint writes the trainable tensors, their AdamW moments (from
// tr) and st.
func saveCheckpoint(path string, a *peft.Applied, tr *t5.Trainer, st *state) error {
	ost, err := tr.State()
	if err != nil {
		return err
	}
	ts, err := a.Tensors()
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	for _, p := range a.Trainables {
		if mo, ok := ost.Moments[p.Name]; ok {
			shape := ts[p.Name].Shape
			ts[prefixM+p.Name], ts[prefixV+p.Name] = t5.Tensor{Shape: shape, F32: mo.M}, t5.Tensor{Shape: shape, F32: mo.V}
		}
	}
	sj, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	meta := map[string]string{"format": "pt", "method": string(a.Config.Method), "trainer_state": string(sj)}
	return writeAtomic(path, func(tmp string) error { return t5.WriteTensors(tmp, ts, meta) })
}

// readState reads the trainer state from a checkpoint's header metadata.
func readState(path string) (*state, error) {
	f, err := t5.OpenTensors(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return stateOf(f, path)
}

// stateOf reads the trainer state of f, opened from path.
func stateOf(f *t5.TensorFile, path string) (*state, error) {
	raw, ok := f.Metadata()["trainer_state"]
	if !ok {
		return nil, fmt.Errorf("finetune: %s holds no trainer state", path)
	}
	var st state
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("finetune: %s: trainer state: %w", path, err)
	}
	return &st, nil
}

// loadCheckpoint puts a checkpoint's tensors into the applied method and
// its step count and moments into tr, and returns its state.
func loadCheckpoint(path string, a *peft.Applied, tr *t5.Trainer) (*state, error) {
	f, err := t5.OpenTensors(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := stateOf(f, path)
	if err != nil {
		return nil, err
	}
	if err := a.LoadTensors(path); err != nil {
		return nil, err
	}
	ost := t5.TrainState{Steps: st.Step, Moments: map[string]t5.Moments{}}
	for _, p := range a.Trainables {
		hasM, hasV := f.Has(prefixM+p.Name), f.Has(prefixV+p.Name)
		if hasM != hasV {
			return nil, fmt.Errorf("%w: %s: incomplete optimizer state of %s", t5.ErrCheckpoint, path, p.Name)
		}
		if !hasM {
			continue
		}
		var mo t5.Moments
		if mo.M, err = f.Float32(prefixM+p.Name, p.Shape); err != nil {
			return nil, err
		}
		if mo.V, err = f.Float32(prefixV+p.Name, p.Shape); err != nil {
			return nil, err
		}
		ost.Moments[p.Name] = mo
	}
	if err := tr.SetState(ost); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", t5.ErrCheckpoint, path, err)
	}
	return st, nil
}

// saveBest writes the method's files into dir/best through a temporary
// folder, replacing the previous best only once the new one is complete.
func saveBest(dir string, a *peft.Applied) error {
	final := filepath.Join(dir, BestDir)
	tmp, old := final+".tmp", final+".old"
	os.RemoveAll(tmp)
	if err := a.Save(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.RemoveAll(old)
	if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("finetune: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	return os.RemoveAll(old)
}
