package t5

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHubModel lays out a model in huggingface_hub's cache layout under
// cache: models--ORG--NAME/refs/<ref> holding commit, and the files of src
// (config.json and the weights) in snapshots/<commit>/. It returns the
// snapshot directory.
func fakeHubModel(t *testing.T, cache, id, ref, commit, src string, files ...string) string {
	t.Helper()
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	snap := filepath.Join(repo, "snapshots", commit)
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", ref), []byte(commit), 0o644); err != nil { // no newline, as the hub writes it
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snap, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return snap
}

// clearHubEnv unsets the variables HubCacheDir reads.
func clearHubEnv(t *testing.T) {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(v, "")
	}
}

func TestHubCacheDir(t *testing.T) {
	clearHubEnv(t)
	t.Setenv("HOME", "/home/u")
	for _, c := range []struct{ env, val, want string }{
		{"", "", "/home/u/.cache/huggingface/hub"},
		{"XDG_CACHE_HOME", "/xdg", "/xdg/huggingface/hub"},
		{"HF_HOME", "/hf", "/hf/hub"},
		{"HF_HOME", "~/hf", "/home/u/hf/hub"},
		{"HUGGINGFACE_HUB_CACHE", "/old", "/old"},
		{"HF_HUB_CACHE", "/cache", "/cache"},
	} {
		if c.env != "" {
			t.Setenv(c.env, c.val) // each row also keeps the ones above: the later must win
		}
		got, err := HubCacheDir()
		if err != nil || got != c.want {
			t.Errorf("%s=%s: %q, %v; want %q", c.env, c.val, got, err, c.want)
		}
	}
}

// TestResolveModel resolves model ids in a temporary cache: through
// refs/main, an explicit branch, a commit hash; a directory stays as it
// is; Load reads the resolved snapshot (safetensors or pytorch_model.bin);
// a model not there is ErrModelNotFound naming every path looked at.
func TestResolveModel(t *testing.T) {
	clearHubEnv(t)
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	const c1, c2 = "0123456789abcdef0123456789abcdef01234567", "89abcdef0123456789abcdef0123456789abcdef"
	snap := fakeHubModel(t, cache, "acme/tiny-t5", "main", c1, refDir("tiny-gated"), "config.json", "model.safetensors")
	binSnap := fakeHubModel(t, cache, "tiny-bin", "v1.0", c2, binDir("f16"), "config.json", "pytorch_model.bin")
	for _, c := range []struct{ in, want string }{
		{"acme/tiny-t5", snap},
		{"acme/tiny-t5@main", snap},
		{"acme/tiny-t5@" + c1, snap},
		{"tiny-bin@v1.0", binSnap},
		{"tiny-bin@" + c2, binSnap},
		{refDir("tiny-gated"), refDir("tiny-gated")},
		{"/no/such/dir", "/no/such/dir"}, // a path: left for the caller to report
	} {
		got, err := ResolveModel(c.in)
		if err != nil || got != c.want {
			t.Errorf("ResolveModel(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	be := openBackend(t, "purego")
	for _, id := range []string{"acme/tiny-t5", "tiny-bin@v1.0"} {
		m, err := Load(id, be)
		if err != nil {
			t.Fatalf("Load(%q): %v", id, err)
		}
		m.Close()
	}

	for _, c := range []struct {
		in     string
		looked []string
	}{
		{"t5-base", []string{"t5-base (no such directory)", filepath.Join(cache, "models--t5-base", "refs", "main") + " (does not exist)"}},
		{"google/t5-v1_1-small@dev", []string{filepath.Join(cache, "models--google--t5-v1_1-small", "refs", "dev")}},
		{"tiny-bin", []string{filepath.Join(cache, "models--tiny-bin", "refs", "main")}},
		{"acme/tiny-t5@" + c2, []string{filepath.Join(cache, "models--acme--tiny-t5", "snapshots", c2) + " (does not exist)"}},
	} {
		_, err := ResolveModel(c.in)
		if !errors.Is(err, ErrModelNotFound) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ResolveModel(%q): error %v, want ErrModelNotFound", c.in, err)
			continue
		}
		for _, p := range c.looked {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("ResolveModel(%q): error %q does not name %s", c.in, err, p)
			}
		}
	}
	// A refs file that points at a missing snapshot names the snapshot.
	if err := os.RemoveAll(snap); err != nil {
		t.Fatal(err)
	}
	_, err := Load("acme/tiny-t5", be)
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), snap) {
		t.Errorf("Load after removing the snapshot: %v", err)
	}
	// HF_HOME is used when HF_HUB_CACHE is not set.
	t.Setenv("HF_HUB_CACHE", "")
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	want := fakeHubModel(t, filepath.Join(home, "hub"), "acme/tiny-t5", "main", c1, refDir("tiny-gated"), "config.json")
	if got, err := ResolveModel("acme/tiny-t5"); err != nil || got != want {
		t.Errorf("with HF_HOME: %q, %v; want %q", got, err, want)
	}
}
