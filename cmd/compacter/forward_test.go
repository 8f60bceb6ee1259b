package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/t5"
)

func TestForwardCommand(t *testing.T) {
	for _, c := range []string{"tiny-relu", "tiny-gated"} {
		dir := filepath.Join("..", "..", "testdata", "t5", c)
		out := filepath.Join(t.TempDir(), "out.safetensors")
		stdout, err := runArgs(t, "forward", "--model", dir, "--batch", filepath.Join(dir, "batch.safetensors"),
			"--out", out, "--grads", "--backend", "cpu")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "loss") {
			t.Errorf("output %q does not report the loss", stdout)
		}
		compareTensorFiles(t, c, out, filepath.Join(dir, "expected.safetensors"))
	}
}

// compareTensorFiles checks that the file at gotPath holds the tensors of
// wantPath (the same names) within the reference README's float32
// tolerances: gradients per tensor, everything else elementwise.
func compareTensorFiles(t *testing.T, label, gotPath, wantPath string) {
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
	if g, w := got.Names(), want.Names(); strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("%s: tensors %v, want %v", label, g, w)
	}
	for _, name := range want.Names() {
		shape, _ := want.Shape(name)
		w, err := want.Float32(name, shape)
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.Float32(name, shape)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		ref := 0.0
		for _, v := range w {
			ref = max(ref, math.Abs(float64(v)))
		}
		for i := range w {
			d := math.Abs(float64(g[i] - w[i]))
			tol := 1e-5 + 1e-4*math.Abs(float64(w[i]))
			if strings.HasPrefix(name, "grad/") {
				tol = 1e-4*ref + 1e-6
			}
			if d > tol {
				t.Errorf("%s: %s[%d] = %g, want %g", label, name, i, g[i], w[i])
				break
			}
		}
	}
}

// TestForwardPEFT runs `compacter forward --peft` on folders in the official
// code's layout and compares logits, loss and the trainable tensors'
// gradients with that code's outputs.
func TestForwardPEFT(t *testing.T) {
	base := filepath.Join("..", "..", "testdata", "t5", "tiny-relu")
	for _, method := range []string{"compacter", "adapter-lowrank", "bitfit", "prompt-tuning", "intrinsic-said"} {
		dir := filepath.Join("..", "..", "testdata", "peft", method)
		out := filepath.Join(t.TempDir(), "out.safetensors")
		if _, err := runArgs(t, "forward", "--model", base, "--batch", filepath.Join(base, "batch.safetensors"),
			"--peft", dir, "--out", out, "--grads", "--backend", "cpu"); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		compareTensorFiles(t, method, out, filepath.Join(dir, "expected.safetensors"))
	}
}

func TestForwardCommandErrors(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "t5", "tiny-relu")
	for _, args := range [][]string{
		{"forward"},
		{"forward", "--model", dir, "--batch", "nope.safetensors", "--out", filepath.Join(t.TempDir(), "o")},
		{"forward", "--model", t.TempDir(), "--batch", filepath.Join(dir, "batch.safetensors"), "--out", filepath.Join(t.TempDir(), "o")},
		{"forward", "extra"},
	} {
		if _, err := runArgs(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
