package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

// tinyCheckpoint writes a T5 with generated weights and the reference
// SentencePiece model (2100 ids with the sentinels) as a checkpoint folder.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	cfg := t5.DefaultConfig()
	cfg.VocabSize, cfg.DModel, cfg.DKV, cfg.DFF, cfg.NumHeads = 2100, 32, 8, 64, 4
	cfg.NumLayers, cfg.NumDecoderLayers, cfg.RelativeAttentionNumBuckets = 1, 1, 8
	return checkpointOf(t, cfg)
}

// checkpointOf writes a T5 of cfg with generated weights (seed 1) and the
// reference SentencePiece model as a checkpoint folder.
func checkpointOf(t *testing.T, cfg t5.Config) string {
	t.Helper()
	be, err := kernels.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	m, err := t5.New(cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.InitWeights(1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	spm, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tokenizer", "spiece.model"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), spm, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTrainFlagErrors(t *testing.T) {
	base := []string{"train", "--model", "m", "--task", "rte", "--data", "d", "--out", t.TempDir(), "--progress=false"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--task", "rte"}, "are required"},
		{append(base, "--method", "lora"), "unknown method"},
		{append(base[:3:3], "--task", "wnli", "--data", "d", "--out", "o"), "unknown task"},
		{append(base, "--lr", "fast"), "invalid value"},
		{append(base, "extra"), "unexpected arguments"},
		{append(base, "--train-samples", "-5"), "must not be negative"},
		{append(base, "--batch", "4", "--micro-batch", "8"), "exceeds the batch"},
		{append(base, "--lr", "0"), "must be positive"},
		{append(base, "--max-len", "1"), "max length"},
		{append(base, "--resume"), "nothing to resume"},
	} {
		_, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.args[1:], err, c.want)
		}
	}
}

// TestTrainCommand trains a tiny checkpoint on the MNLI fixtures: one step
// (stopped by --max-steps), then a resume to the end.
func TestTrainCommand(t *testing.T) {
	model := tinyCheckpoint(t)
	out := t.TempDir()
	args := []string{"train", "--model", model, "--method", "bitfit", "--task", "mnli",
		"--data", filepath.Join("..", "..", "bench", "glue", "testdata"), "--out", out,
		"--epochs", "2", "--batch", "2", "--warmup", "0", "--max-len", "48", "--backend", "cpu"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(args, "--max-steps", "1"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "1 steps, stopped at max steps") || !strings.Contains(stderr.String(), "step 1/4") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if _, err := runArgs(t, args...); err == nil || !strings.Contains(err.Error(), "already holds a checkpoint") {
		t.Errorf("second run without --resume: %v", err)
	}
	stdout.Reset()
	stderr.Reset()
	if err := run(context.Background(), append(args, "--resume"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 steps, finished", "best epoch", "test (best epoch's method): accuracy"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout %q lacks %q", stdout.String(), want)
		}
	}
	if !strings.Contains(stderr.String(), "epoch 2/2: train loss") {
		t.Errorf("stderr %q lacks the epoch lines", stderr.String())
	}
	for _, f := range []string{"report.json", "report.md", "checkpoint.safetensors", "best/adapter_config.json", "best/adapter_model.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// The best adapter is usable by forward --peft.
	if _, err := os.Stat(filepath.Join(out, "best", "adapter_model.safetensors")); err == nil {
		b := filepath.Join(t.TempDir(), "batch.safetensors")
		ids := t5.Tensor{Shape: []int{1, 3}, I32: []int32{5, 6, 1}}
		if err := t5.WriteTensors(b, map[string]t5.Tensor{"input_ids": ids, "labels": {Shape: []int{1, 2}, I32: []int32{19, 1}}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := runArgs(t, "forward", "--model", model, "--batch", b, "--out", filepath.Join(t.TempDir(), "o.safetensors"),
			"--peft", filepath.Join(out, "best"), "--backend", "cpu"); err != nil {
			t.Errorf("forward --peft with the best adapter: %v", err)
		}
	}
}
