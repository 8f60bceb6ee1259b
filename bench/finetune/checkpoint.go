package finetune

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/compacter-go/compacter/kernels"
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

// saveCheckpoint writes the trainable tensors, their AdamW moments and st.
func saveCheckpoint(path string, a *peft.Applied, st *state) error {
	m := a.Model
	ts, err := download(m, a.Trainables, func(p *t5.Param) kernels.Buffer { return p.W }, "")
	if err != nil {
		return err
	}
	for prefix, pick := range map[string]func(*t5.Param) kernels.Buffer{
		prefixM: func(p *t5.Param) kernels.Buffer { return p.M },
		prefixV: func(p *t5.Param) kernels.Buffer { return p.V },
	} {
		more, err := download(m, a.Trainables, pick, prefix)
		if err != nil {
			return err
		}
		for k, v := range more {
			ts[k] = v
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
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	defer f.Close()
	var n [8]byte
	if _, err := io.ReadFull(f, n[:]); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", t5.ErrCheckpoint, path, err)
	}
	size := binary.LittleEndian.Uint64(n[:])
	if fi, err := f.Stat(); err != nil || size > uint64(fi.Size()) {
		return nil, fmt.Errorf("%w: %s: header of %d bytes is longer than the file", t5.ErrCheckpoint, path, size)
	}
	head := make([]byte, size)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", t5.ErrCheckpoint, path, err)
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(head, &h); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", t5.ErrCheckpoint, path, err)
	}
	raw, ok := h.Meta["trainer_state"]
	if !ok {
		return nil, fmt.Errorf("finetune: %s holds no trainer state", path)
	}
	var st state
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("finetune: %s: trainer state: %w", path, err)
	}
	return &st, nil
}

// loadCheckpoint puts a checkpoint's tensors and moments into the applied
// method and returns its state.
func loadCheckpoint(path string, a *peft.Applied) (*state, error) {
	st, err := readState(path)
	if err != nil {
		return nil, err
	}
	if err := a.LoadTensors(path); err != nil {
		return nil, err
	}
	f, err := t5.OpenTensors(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	be := a.Model.Backend
	for _, p := range a.Trainables {
		hasM, hasV := f.Has(prefixM+p.Name), f.Has(prefixV+p.Name)
		if hasM != hasV || (!hasM && st.Step > 0) {
			return nil, fmt.Errorf("%w: %s: incomplete optimizer state of %s", t5.ErrCheckpoint, path, p.Name)
		}
		if !hasM {
			continue
		}
		mv, err := f.Float32(prefixM+p.Name, p.Shape)
		if err != nil {
			return nil, err
		}
		vv, err := f.Float32(prefixV+p.Name, p.Shape)
		if err != nil {
			return nil, err
		}
		if p.M == nil {
			if p.M, err = be.Alloc(kernels.Float32, p.Len()); err != nil {
				return nil, err
			}
		}
		if p.V == nil {
			if p.V, err = be.Alloc(kernels.Float32, p.Len()); err != nil {
				return nil, err
			}
		}
		if err := errors.Join(be.Upload(p.M, mv), be.Upload(p.V, vv)); err != nil {
			return nil, fmt.Errorf("finetune: %s: %w", p.Name, err)
		}
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
