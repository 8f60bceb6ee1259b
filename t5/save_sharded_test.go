package t5

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// A sharded save loads back to identical weights and logits, in the
// Hugging Face index layout, with over-sized tensors in shards of their own.
func TestSaveShardedRoundTrip(t *testing.T) {
	be := openBackend(t, "purego")
	for _, c := range refCases {
		t.Run(c, func(t *testing.T) {
			m, batch, _ := loadRef(t, be, c)
			dir := t.TempDir()
			// A stale single file and shard must not survive the save.
			for _, n := range []string{"model.safetensors", "model-00009-of-00009.safetensors"} {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("stale"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The largest tensors exceed the shard size.
			var maxShard int
			for _, p := range m.Params {
				maxShard = max(maxShard, 4*p.Len()*3/4)
			}
			if err := m.SaveSharded(dir, int64(maxShard)); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ix struct {
				Metadata struct {
					TotalSize int64 `json:"total_size"`
				} `json:"metadata"`
				WeightMap map[string]string `json:"weight_map"`
			}
			if err := json.Unmarshal(data, &ix); err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, p := range m.Params {
				total += 4 * int64(p.Len())
			}
			if ix.Metadata.TotalSize != total || len(ix.WeightMap) != len(m.Params) {
				t.Errorf("index: total_size %d, %d tensors; want %d, %d", ix.Metadata.TotalSize, len(ix.WeightMap), total, len(m.Params))
			}
			shards := map[string][]string{}
			for name, file := range ix.WeightMap {
				shards[file] = append(shards[file], name)
			}
			if len(shards) < 3 {
				t.Errorf("%d shards, want several", len(shards))
			}
			for file, names := range shards {
				if !shardName.MatchString(file) || !strings.HasSuffix(file, fmt.Sprintf("-of-%05d.safetensors", len(shards))) {
					t.Errorf("shard file %q does not match model-0000k-of-%05d.safetensors", file, len(shards))
				}
				f, err := OpenTensors(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(names)
				if !slices.Equal(f.Names(), names) {
					t.Errorf("%s holds %v, index says %v", file, f.Names(), names)
				}
				f.Close()
				size := 0
				for _, n := range names {
					size += 4 * m.Param(n).Len()
				}
				if size > maxShard && len(names) != 1 {
					t.Errorf("%s: %d bytes in %d tensors over the %d-byte limit", file, size, len(names), maxShard)
				}
			}
			sawBig := false
			for _, p := range m.Params {
				if 4*p.Len() > maxShard {
					sawBig = true
					if n := len(shards[ix.WeightMap[p.Name]]); n != 1 {
						t.Errorf("%s (%d bytes) shares its shard with %d others", p.Name, 4*p.Len(), n-1)
					}
				}
			}
			if !sawBig {
				t.Error("no tensor exceeds the shard size: the test does not exercise it")
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				n := e.Name()
				if n != "config.json" && n != "model.safetensors.index.json" && shards[n] == nil {
					t.Errorf("unexpected file %s left in the checkpoint", n)
				}
			}

			m2, err := Load(dir, be)
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			if m2.Config != m.Config {
				t.Errorf("config %+v after round trip, want %+v", m2.Config, m.Config)
			}
			for i, p := range m.Params {
				if !slices.Equal(kerneltest.Download(t, be, p.W), kerneltest.Download(t, be, m2.Params[i].W)) {
					t.Errorf("%s differs after round trip", p.Name)
				}
			}
			ps1, err := m.Forward(batch, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ps1.Release()
			ps2, err := m2.Forward(batch, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ps2.Release()
			if !slices.Equal(kerneltest.Download(t, be, ps1.Logits), kerneltest.Download(t, be, ps2.Logits)) {
				t.Error("logits differ after a sharded round trip")
			}
		})
	}
}

func TestSaveShardedErrors(t *testing.T) {
	be := openBackend(t, "purego")
	m, _, _ := loadRef(t, be, "tiny-relu")
	for _, n := range []int64{0, -1} {
		if err := m.SaveSharded(t.TempDir(), n); err == nil {
			t.Errorf("shard size %d: no error", n)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveSharded(filepath.Join(file, "sub"), 1<<20); err == nil {
		t.Error("directory under a file: no error")
	}
}
