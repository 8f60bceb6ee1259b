package t5

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// shardName matches the shard files SaveSharded writes.
var shardName = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// SaveSharded writes config.json, the parameters as float32 shards
// model-0000k-of-0000n.safetensors of at most maxShardBytes of tensor data
// each, and model.safetensors.index.json ({"metadata": {"total_size": …},
// "weight_map": {tensor: shard}}) into dir, creating it, in the layout of
// Hugging Face's save_pretrained(max_shard_size=…), which Load reads back.
// Tensors go into shards in Params order, a new shard starting when the
// next tensor would overflow the current one; a tensor larger than
// maxShardBytes gets a shard of its own. Tied duplicates are dropped as in
// Save. Every file is written to a temporary file in dir and renamed into
// place, the index last; afterwards model.safetensors and shard files of
// an earlier save that this one did not write are removed, so the index
// alone describes the checkpoint.
func (m *Model) SaveSharded(dir string, maxShardBytes int64) error {
	if maxShardBytes <= 0 {
		return fmt.Errorf("t5: shard size %d must be positive", maxShardBytes)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	cj, err := m.Config.JSON()
	if err != nil {
		return err
	}
	if err := writeAtomic(dir, "config.json", func(path string) error {
		return os.WriteFile(path, append(cj, '\n'), 0o644)
	}); err != nil {
		return err
	}
	// Group the parameters into shards.
	var shards [][]*Param
	var size, total int64
	for _, p := range m.Params {
		n := 4 * int64(p.Len())
		if len(shards) == 0 || (size+n > maxShardBytes && len(shards[len(shards)-1]) > 0) {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], p)
		size += n
		total += n
	}
	weightMap := map[string]string{}
	written := map[string]bool{}
	for i, ps := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		ts := make(map[string]Tensor, len(ps))
		for _, p := range ps {
			data := make([]float32, p.Len())
			if err := m.Backend.Download(data, p.W); err != nil {
				return fmt.Errorf("t5: downloading %s: %w", p.Name, err)
			}
			ts[p.Name] = Tensor{Shape: slices.Clone(p.Shape), F32: data}
			weightMap[p.Name] = name
		}
		if err := writeAtomic(dir, name, func(path string) error {
			return WriteTensors(path, ts, map[string]string{"format": "pt"})
		}); err != nil {
			return err
		}
		written[name] = true
	}
	index, err := json.MarshalIndent(struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]int64{"total_size": total}, weightMap}, "", "  ")
	if err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	if err := writeAtomic(dir, "model.safetensors.index.json", func(path string) error {
		return os.WriteFile(path, append(index, '\n'), 0o644)
	}); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if (n == "model.safetensors" || shardName.MatchString(n)) && !written[n] {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("t5: removing stale %s: %w", n, err)
			}
		}
	}
	return nil
}

// writeAtomic has write fill a new temporary file in dir and renames it to
// dir/name; on failure the temporary file is removed.
func writeAtomic(dir, name string, write func(path string) error) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("t5: %w", err)
	}
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // CreateTemp made it 0600
		os.Remove(tmp)
		return fmt.Errorf("t5: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("t5: %w", err)
	}
	return nil
}
