package t5

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"
)

func copyCase(t *testing.T, c string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		data, err := os.ReadFile(filepath.Join(refDir(c), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	be := openBackend(t, "purego")
	model := func(t *testing.T, dir string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, dir string)
		want   error
		substr string
	}{
		{"missing dir", func(t *testing.T, dir string) { os.RemoveAll(dir) }, os.ErrNotExist, "config.json"},
		{"missing weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) }, ErrCheckpoint, "model.safetensors"},
		{"truncated", func(t *testing.T, dir string) {
			d := model(t, dir)
			os.WriteFile(filepath.Join(dir, "model.safetensors"), d[:len(d)-100], 0o644)
		}, ErrCheckpoint, "truncated"},
		{"corrupt header", func(t *testing.T, dir string) {
			d := model(t, dir)
			d[20] = '}'
			os.WriteFile(filepath.Join(dir, "model.safetensors"), d, 0o644)
		}, ErrCheckpoint, "corrupt"},
		{"tiny file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte{1, 2}, 0o644)
		}, ErrCheckpoint, "model.safetensors"},
		{"unknown ffn", func(t *testing.T, dir string) { editConfig(t, dir, `"relu"`, `"gated-foo"`) }, ErrConfig, "gated-foo"},
		{"bad json", func(t *testing.T, dir string) { editConfig(t, dir, `"d_model": 32`, `"d_model": "x"`) }, ErrConfig, "d_model"},
		{"zero heads", func(t *testing.T, dir string) { editConfig(t, dir, `"num_heads": 4`, `"num_heads": 0`) }, ErrConfig, "num_heads"},
		{"wrong model type", func(t *testing.T, dir string) { editConfig(t, dir, `"model_type": "t5"`, `"model_type": "bart"`) }, ErrConfig, "bart"},
		{"shape mismatch", func(t *testing.T, dir string) { editConfig(t, dir, `"d_ff": 64`, `"d_ff": 65`) }, ErrCheckpoint, "shape"},
		{"missing tensor", func(t *testing.T, dir string) { editConfig(t, dir, `"num_layers": 2`, `"num_layers": 3`) }, ErrCheckpoint, "encoder.block.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyCase(t, "tiny-relu")
			tc.edit(t, dir)
			m, err := Load(dir, be)
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q, want %v containing %q", err, tc.want, tc.substr)
			}
		})
	}
	if be.Mem().InUse != 0 {
		t.Errorf("%d bytes still allocated after failed loads", be.Mem().InUse)
	}
}

func editConfig(t *testing.T, dir, old, repl string) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("config has no %s", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	be := openBackend(t, "purego")
	for _, c := range refCases {
		m, _, _ := loadRef(t, be, c)
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		m2, err := Load(dir, be)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Config != m.Config {
			t.Errorf("%s: config %+v after round trip, want %+v", c, m2.Config, m.Config)
		}
		for i, p := range m.Params {
			if !slices.Equal(kerneltest.Download(t, be, p.W), kerneltest.Download(t, be, m2.Params[i].W)) {
				t.Errorf("%s: %s differs after round trip", c, p.Name)
			}
		}
		f, err := OpenTensors(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(f.Names()); got != len(m.Params) {
			t.Errorf("%s: saved %d tensors, want %d (tied duplicates dropped)", c, got, len(m.Params))
		}
		f.Close()
		m2.Close()
	}
}

func TestShardedCheckpoint(t *testing.T) {
	be := openBackend(t, "purego")
	m, _, _ := loadRef(t, be, "tiny-gated")
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	// Split model.safetensors into two shards with an index.
	f, err := OpenTensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	shards := []map[string]Tensor{{}, {}}
	index := `{"metadata": {}, "weight_map": {`
	for i, name := range f.Names() {
		shape, _ := f.Shape(name)
		data, err := f.Float32(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		shards[i%2][name] = Tensor{Shape: shape, F32: data}
		if i > 0 {
			index += ","
		}
		index += `"` + name + `": "model-0000` + string(rune('1'+i%2)) + `-of-00002.safetensors"`
	}
	f.Close()
	index += "}}"
	os.Remove(filepath.Join(dir, "model.safetensors"))
	for i, s := range shards {
		if err := WriteTensors(filepath.Join(dir, "model-0000"+string(rune('1'+i))+"-of-00002.safetensors"), s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir, be)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	for i, p := range m.Params {
		if !slices.Equal(kerneltest.Download(t, be, p.W), kerneltest.Download(t, be, m2.Params[i].W)) {
			t.Errorf("%s differs after sharded load", p.Name)
		}
	}
}

func TestPresets(t *testing.T) {
	for name, want := range map[string]int64{
		// Parameter counts of the Hugging Face checkpoints (vocabulary 32128).
		"t5-small":             60506624,
		"t5-base":              222903552,
		"t5-large":             737668096,
		"google/t5-v1_1-small": 76961152,
		"google/t5-v1_1-base":  247577856,
	} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.NumParams(); got != want {
			t.Errorf("%s: %d parameters, want %d", name, got, want)
		}
	}
	if _, err := Preset("t5-huge"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown preset: error %v", err)
	}
}

// Params follow named_parameters() of the reference model
// (named_parameters.json is the full-finetune case's trainable.json), and
// NumParams its count.
func TestParamOrder(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(refDir("tiny-relu"), "named_parameters.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Trainable []string         `json:"trainable"`
		Count     int64            `json:"count"`
		Numel     map[string]int64 `json:"numel"`
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	be := openBackend(t, "purego")
	m, _, _ := loadRef(t, be, "tiny-relu")
	var names []string
	for _, p := range m.Params {
		names = append(names, p.Name)
		if int64(p.Len()) != want.Numel[p.Name] {
			t.Errorf("%s: %d elements, want %d", p.Name, p.Len(), want.Numel[p.Name])
		}
	}
	if !slices.Equal(names, want.Trainable) {
		t.Errorf("parameter order\n%v\nwant\n%v", names, want.Trainable)
	}
	if got := m.Config.NumParams(); got != want.Count {
		t.Errorf("NumParams = %d, want %d", got, want.Count)
	}
}
