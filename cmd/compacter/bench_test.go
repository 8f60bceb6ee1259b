package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/bench"
)

const tinyModel = "../../testdata/t5/tiny-relu"

func TestBenchFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--batch", "0"},
		{"--seq", "-3"},
		{"--steps", "0"},
		{"--epoch-examples", "0"},
		{"--seed", "0"},
		{"--format", "xml"},
		{"--methods", "compacter,lora"},
		{"--methods", "bitfit,bitfit"},
		{"--shape", "t5-huge"},
		{"--backend", "tpu", "--model", tinyModel},
		{"--model", "/nonexistent/dir"},
		{"--model", tinyModel, "--shape", "t5-small"},
		{"--from", "x.json", "--batch", "2"},
		{"--from", "/nonexistent/table.json"},
		{"--steps", "two"},
		{"extra"},
		{"--task", "rte"},
		{"--data", "../../bench/glue/testdata"},
		{"--spm", "../../testdata/tokenizer/spiece.model"},
		{"--eval-samples", "3"},
		{"--task", "squad", "--data", "../../bench/glue/testdata", "--model", tinyModel},
		{"--task", "mnli", "--data", "../../bench/glue/testdata", "--model", tinyModel, "--eval-samples", "-1"},
		{"--task", "mnli", "--data", "../../bench/glue/testdata", "--model", tinyModel}, // no spiece.model there
		// the tokenizer's 2100 ids exceed tiny-relu's vocabulary of 96
		{"--task", "mnli", "--data", "../../bench/glue/testdata", "--model", tinyModel, "--spm", "../../testdata/tokenizer/spiece.model", "--steps", "1"},
		{"--from", "x.json", "--task", "rte"},
		{"--source-len", "-1"},
		{"--target-len", "-2"},
		{"--threads", "-1"},
		{"--dropout", "1"},
		{"--dropout", "x"},
		{"--from", "x.json", "--dropout", "0"},
		{"--max-grad-norm", "-1"},
		{"--max-grad-norm", "NaN"},
		{"--from", "x.json", "--max-grad-norm", "0"},
		{"--task", "rte", "--data", "../../bench/glue/testdata", "--model", tinyModel, "--target-len", "4"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, args...), &out, &errb)
		if err == nil {
			t.Errorf("%v: no error", args)
			continue
		}
		if out.Len() > 0 {
			t.Errorf("%v: printed a table despite %v", args, err)
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bench", "-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) ||
		!strings.Contains(errb.String(), "--shape t5-base") || !strings.Contains(errb.String(), "not comparable") {
		t.Errorf("help: %v\n%s", err, errb.String())
	}
}

func TestBenchTinyRun(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "table.json")
	var out, errb bytes.Buffer
	args := []string{"bench", "--model", tinyModel, "--batch", "2", "--seq", "8", "--steps", "1",
		"--methods", "full-finetune,adapter,compacter,compacter-pp", "--format", "json", "--out", jsonPath,
		"--plot", filepath.Join(dir, "fig")}
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("--out still printed to stdout: %q", out.String())
	}
	// Progress goes to stderr as plain lines (not a terminal).
	if !strings.Contains(errb.String(), "bench 4/4 Compacter++: done") || strings.Contains(errb.String(), "\r") {
		t.Errorf("progress:\n%s", errb.String())
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bench.ReadJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != 4 || !tb.Pretrained || tb.Rows[0].Trainable != 44480 || tb.Rows[3].Name != "Compacter++" {
		t.Errorf("table %+v", tb)
	}
	for _, ext := range []string{".svg", ".png"} {
		if st, err := os.Stat(filepath.Join(dir, "fig"+ext)); err != nil || st.Size() == 0 {
			t.Errorf("plot %s: %v", ext, err)
		}
	}
	// Re-read as CSV without measuring.
	out.Reset()
	if err := run(context.Background(), []string{"bench", "--from", jsonPath, "--format", "csv"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(recs) != 5 || recs[2][0] != "adapter" {
		t.Errorf("csv from json: %q %v", recs, err)
	}
	// The text table, without progress.
	out.Reset()
	errb.Reset()
	args = []string{"bench", "--model", tinyModel, "--batch", "1", "--seq", "4", "--steps", "1", "--methods", "bitfit", "--progress=false"}
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "BitFit") || !strings.Contains(out.String(), "final loss") || errb.Len() != 0 {
		t.Errorf("text:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
}

func TestBenchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	err := run(ctx, []string{"bench", "--model", tinyModel, "--steps", "1", "--batch", "1", "--seq", "4"}, &out, &errb)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
