package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/t5"
)

// forwardOut runs `compacter forward --grads` on tiny-gated's batch with
// the checkpoint model and returns the output file.
func forwardOut(t *testing.T, model string) string {
	t.Helper()
	batch := filepath.Join("..", "..", "testdata", "t5", "tiny-gated", "batch.safetensors")
	out := filepath.Join(t.TempDir(), "out.safetensors")
	if _, err := runArgs(t, "forward", "--model", model, "--batch", batch, "--out", out, "--grads", "--backend", "cpu"); err != nil {
		t.Fatalf("forward --model %s: %v", model, err)
	}
	return out
}

// sameTensorFiles checks that two forward outputs hold the same tensors,
// bit for bit.
func sameTensorFiles(t *testing.T, label, gotPath, wantPath string) {
	t.Helper()
	got, err := t5.OpenTensors(gotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want, err := t5.OpenTensors(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if g, w := got.Names(), want.Names(); !slices.Equal(g, w) || len(w) < 3 {
		t.Fatalf("%s: tensors %v, want %v", label, g, w)
	}
	for _, name := range want.Names() {
		w, err := want.Float32(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.Float32(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(g, w, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("%s: %s differs", label, name)
		}
	}
}

// TestForwardPyTorchBin runs `compacter forward` on pytorch_model.bin
// checkpoints (torch.save fixtures of testdata/t5/bin) and on
// model.safetensors of the same weights: logits, encoder states, loss and
// every gradient are bit-identical, in float32 (zip, legacy and sharded
// .bin against tiny-gated's model.safetensors, whose outputs also match
// the official code's expected.safetensors) and in F16 and BF16 (.bin
// against safetensors of the same half-precision tensors).
func TestForwardPyTorchBin(t *testing.T) {
	bin := func(c string) string { return filepath.Join("..", "..", "testdata", "t5", "bin", c) }
	ref := filepath.Join("..", "..", "testdata", "t5", "tiny-gated")
	refOut := forwardOut(t, ref)
	compareTensorFiles(t, "tiny-gated safetensors", refOut, filepath.Join(ref, "expected.safetensors"))
	for _, c := range []string{"f32", "f32-legacy", "f32-sharded"} {
		sameTensorFiles(t, c, forwardOut(t, bin(c)), refOut)
	}
	for _, c := range []string{"f16", "bf16"} {
		sameTensorFiles(t, c, forwardOut(t, bin(c)), forwardOut(t, bin(c+"-st")))
	}
}

// TestForwardRefusesPickledCode: a pytorch_model.bin whose pickle would
// run os.system under torch.load is refused, the error naming the global.
func TestForwardRefusesPickledCode(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "t5", "bin", "malicious")
	batch := filepath.Join("..", "..", "testdata", "t5", "tiny-gated", "batch.safetensors")
	out := filepath.Join(t.TempDir(), "out.safetensors")
	_, err := runArgs(t, "forward", "--model", dir, "--batch", batch, "--out", out, "--backend", "cpu")
	if !errors.Is(err, t5.ErrUnsafePickle) || !strings.Contains(err.Error(), "posix.system") {
		t.Fatalf("error %v, want the unsafe pickle refused naming posix.system", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an output was written: %v", err)
	}
}

// TestModelByName resolves --model NAME through a Hugging Face cache laid
// out in a temporary directory (HF_HUB_CACHE): forward gives the same
// output as with the directory, params reads its config, and a model not
// in the cache is an error naming the paths looked at, for forward, train,
// bench and params alike.
func TestModelByName(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	src := filepath.Join("..", "..", "testdata", "t5", "tiny-gated")
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(cache, "models--acme--tiny-t5")
	snap := filepath.Join(repo, "snapshots", commit)
	for _, d := range []string{snap, filepath.Join(repo, "refs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snap, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sameTensorFiles(t, "acme/tiny-t5", forwardOut(t, "acme/tiny-t5"), forwardOut(t, src))
	// params: a cached model whose config.json is t5-base's counts as the
	// t5-base preset.
	cfg, err := t5.Preset("t5-base")
	if err != nil {
		t.Fatal(err)
	}
	cj, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	baseSnap := filepath.Join(cache, "models--google-t5--t5-base", "snapshots", commit)
	if err := os.MkdirAll(baseSnap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(baseSnap, "config.json"), cj, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runArgs(t, "params", "--model", "google-t5/t5-base@"+commit, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := runArgs(t, "params", "--model", "t5-base", "--format", "json")
	if err != nil || got != want || !strings.Contains(want, `"method"`) {
		t.Errorf("params of the cached t5-base config:\n%s\nwant the preset's (%v):\n%s", got, err, want)
	}

	missing := filepath.Join(cache, "models--acme--absent", "refs", "main")
	tmp := t.TempDir()
	for _, args := range [][]string{
		{"forward", "--model", "acme/absent", "--batch", filepath.Join(src, "batch.safetensors"), "--out", filepath.Join(tmp, "o"), "--backend", "cpu"},
		{"train", "--model", "acme/absent", "--task", "mnli", "--data", filepath.Join("..", "..", "bench", "glue", "testdata"),
			"--out", filepath.Join(tmp, "t"), "--progress=false", "--backend", "cpu"},
		{"bench", "--model", "acme/absent"},
		{"params", "--model", "acme/absent"},
	} {
		_, err := runArgs(t, args...)
		if !errors.Is(err, t5.ErrModelNotFound) || !strings.Contains(err.Error(), missing) {
			t.Errorf("%s --model acme/absent: error %v, want ErrModelNotFound naming %s", args[0], err, missing)
		}
	}
}
