package t5

import (
	"maps"
	"path/filepath"
	"testing"
)

func TestTensorFileMetadata(t *testing.T) {
	dir := t.TempDir()
	ts := map[string]Tensor{"x": {Shape: []int{2}, F32: []float32{1, 2}}}
	want := map[string]string{"format": "pt", "trainer_state": `{"step":3}`}
	for name, meta := range map[string]map[string]string{"with.safetensors": want, "without.safetensors": nil} {
		path := filepath.Join(dir, name)
		if err := WriteTensors(path, ts, meta); err != nil {
			t.Fatal(err)
		}
		f, err := OpenTensors(path)
		if err != nil {
			t.Fatal(err)
		}
		got := f.Metadata()
		if meta != nil {
			got["format"] = "changed"
			if again := f.Metadata(); again["format"] != "pt" {
				t.Errorf("%s: a caller's change reached the file's metadata: %v", name, again)
			}
			got["format"] = "pt"
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, meta) {
			t.Errorf("%s: metadata %v, want %v", name, got, meta)
		}
	}
}
