package t5

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// weightSource is a file LoadWeights reads tensors from: a safetensors
// file (TensorFile) or a PyTorch one (PyTorchFile).
type weightSource interface {
	Has(name string) bool
	Float32(name string, want []int) ([]float32, error)
	Close() error
}

// The weight files of a checkpoint directory, in the order Load looks for
// them (transformers' order: safetensors first).
const (
	safetensorsIndex = "model.safetensors.index.json"
	safetensorsFile  = "model.safetensors"
	pytorchIndex     = "pytorch_model.bin.index.json"
	pytorchFile      = "pytorch_model.bin"
)

// checkpointWeights is the set of weight files of a checkpoint directory.
type checkpointWeights struct {
	index     map[string]string // tensor → file, from an index; nil without
	indexPath string
	single    string // the file of tensors not in the index
	open      func(path string) (weightSource, error)
	files     map[string]weightSource
}

// findWeights picks the weight files of dir: model.safetensors.index.json
// (with its shards), model.safetensors, pytorch_model.bin.index.json or
// pytorch_model.bin, the first that exists.
func findWeights(dir string) (*checkpointWeights, error) {
	openST := func(p string) (weightSource, error) { return OpenTensors(p) }
	openPT := func(p string) (weightSource, error) { return OpenPyTorch(p) }
	for _, c := range []struct {
		index, single string
		open          func(string) (weightSource, error)
	}{{safetensorsIndex, safetensorsFile, openST}, {"", safetensorsFile, openST},
		{pytorchIndex, pytorchFile, openPT}, {"", pytorchFile, openPT}} {
		w := &checkpointWeights{single: filepath.Join(dir, c.single), open: c.open, files: map[string]weightSource{}}
		if c.index == "" {
			if _, err := os.Stat(w.single); err == nil {
				return w, nil
			}
			continue
		}
		idx := filepath.Join(dir, c.index)
		data, err := os.ReadFile(idx)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		var ix struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(data, &ix); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCheckpoint, idx, err)
		}
		w.index, w.indexPath = map[string]string{}, idx
		for k, v := range ix.WeightMap {
			if v == "" || filepath.Base(v) != v || v == "." || v == ".." || strings.ContainsAny(v, `/\`) {
				return nil, fmt.Errorf("%w: %s: tensor %q in file %q, want a file name in the directory", ErrCheckpoint, idx, k, v)
			}
			w.index[k] = filepath.Join(dir, v)
		}
		return w, nil
	}
	return nil, fmt.Errorf("%w: %s holds none of %s, %s, %s, %s", ErrCheckpoint, dir,
		safetensorsIndex, safetensorsFile, pytorchIndex, pytorchFile)
}

// get returns the open file for a path, opening it on first use.
func (w *checkpointWeights) get(path string) (weightSource, error) {
	if f, ok := w.files[path]; ok {
		return f, nil
	}
	f, err := w.open(path)
	if err != nil {
		return nil, err
	}
	w.files[path] = f
	return f, nil
}

// find returns the file holding the first of names that the checkpoint
// has, and that name. When none has it, the single file of a checkpoint
// without index is returned with names[0], for its error to name; with an
// index, the error says the index lacks the tensor.
func (w *checkpointWeights) find(names ...string) (weightSource, string, error) {
	for _, name := range names {
		path, ok := w.index[name]
		if !ok {
			if w.index != nil {
				continue
			}
			path = w.single
		}
		f, err := w.get(path)
		if err != nil {
			return nil, "", err
		}
		if f.Has(name) {
			return f, name, nil
		}
	}
	if w.index != nil {
		return nil, "", fmt.Errorf("%w: %s: missing tensor %q", ErrCheckpoint, w.indexPath, names[0])
	}
	f, err := w.get(w.single)
	return f, names[0], err
}

// close closes every open file.
func (w *checkpointWeights) close() {
	for _, f := range w.files {
		f.Close()
	}
}
