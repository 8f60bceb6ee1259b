package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sweepFixtures is the generated RTE of bench/sweep (40 training rows).
var sweepFixtures = filepath.Join("..", "..", "bench", "sweep", "testdata")

func TestSweepHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"sweep", "-h"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("sweep -h: %v", err)
	}
	for _, want := range []string{"Usage: compacter sweep", "nested", "result.json", "--clamp", "table.csv", "figure-<task>.svg",
		"-model", "-data", "-tasks", "-methods", "-sizes", "-seeds", "-seed", "-out", "-lr", "-epochs", "-steps", "-batch",
		"-micro-batch", "-warmup", "-max-len", "-reduction-factor", "-eval-samples", "-save-every", "-keep-weights",
		"-dry-run", "-report-only", "-backend", "-progress"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("sweep -h lacks %q", want)
		}
	}
	if out, _ := runArgs(t, "help"); !strings.Contains(out, "compacter sweep") {
		t.Errorf("the command list lacks sweep:\n%s", out)
	}
}

func TestSweepFlagErrors(t *testing.T) {
	base := []string{"sweep", "--model", "m", "--data", sweepFixtures, "--tasks", "rte", "--out", t.TempDir(), "--progress=false"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--tasks", "rte"}, "are required"},
		{append(base, "--methods", "lora"), "unknown method"},
		{append(base, "--tasks", "wnli"), "unknown task"},
		{append(base, "--sizes", "8,many"), "not a number"},
		{append(base, "--sizes", "8,100"), "fewer than the size 100"},
		{append(base, "--sizes", "0"), "must be positive"},
		{append(base, "--seeds", "0"), "must be positive"},
		{append(base, "--steps", "5", "--epochs", "2"), "exclude each other"},
		{append(base, "--reduction-factor", "0"), "must be positive"},
		{append(base, "--dry-run", "--report-only"), "exclude each other"},
		{append(base, "extra"), "unexpected arguments"},
	} {
		_, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.args[1:], err, c.want)
		}
	}
}

// TestSweepHelperProcess is the child of TestSweepCommandKilled: it runs
// the sweep of its arguments and is killed.
func TestSweepHelperProcess(t *testing.T) {
	if os.Getenv("COMPACTER_SWEEP_HELPER") != "1" {
		t.Skip("helper process of TestSweepCommandKilled")
	}
	args := strings.Split(os.Getenv("COMPACTER_SWEEP_ARGS"), "\x1f")
	if err := run(context.Background(), args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// resultTimes maps every cell's result.json under out to its contents
// and modification time.
func resultTimes(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(filepath.Join(out, "cells"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "result.json" {
			b, _ := os.ReadFile(path)
			fi, _ := os.Stat(path)
			m[path] = fi.ModTime().String() + "\n" + string(b)
		}
		return nil
	})
	return m
}

// TestSweepCommandKilled runs "compacter sweep" on the tiny checkpoint in
// a child process, kills it (SIGKILL, no clean-up) after two cells, and
// reruns it: only the missing cells run, the finished ones' results are
// untouched, and the tables and figures are written.
func TestSweepCommandKilled(t *testing.T) {
	model := tinyCheckpoint(t)
	out := t.TempDir()
	args := []string{"sweep", "--model", model, "--data", sweepFixtures, "--tasks", "rte", "--methods", "adapter,compacter",
		"--sizes", "8,16", "--seeds", "2", "--seed", "1", "--out", out, "--epochs", "1", "--batch", "8", "--warmup", "0",
		"--lr", "0.01", "--reduction-factor", "4", "--eval-samples", "4", "--max-len", "48", "--backend", "cpu"}
	const total, k = 8, 2
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweepHelperProcess$")
	cmd.Env = append(os.Environ(), "COMPACTER_SWEEP_HELPER=1", "COMPACTER_SWEEP_ARGS="+strings.Join(args, "\x1f"))
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	done := 0
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), ": test ") {
			if done++; done == k {
				cmd.Process.Kill()
				break
			}
		}
	}
	cmd.Wait()
	if done != k {
		t.Fatalf("the child finished %d cells before it ended:\n%s", done, strings.Join(lines, "\n"))
	}
	before := resultTimes(t, out)
	if len(before) < k || len(before) >= total {
		t.Fatalf("%d result files after the kill", len(before))
	}
	t.Logf("killed after %d finished cells; %d result files", k, len(before))
	time.Sleep(10 * time.Millisecond)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("rerun: %v\n%s", err, stderr.String())
	}
	want := fmt.Sprintf("%d cells: %d run, %d found finished, 0 failed", total, total-len(before), len(before))
	if !strings.Contains(stdout.String(), want) || !strings.Contains(stderr.String(), fmt.Sprintf("%d of %d cells already finished", len(before), total)) {
		t.Errorf("rerun: want %q\nstdout:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
	}
	after := resultTimes(t, out)
	if len(after) != total {
		t.Errorf("%d result files, want %d", len(after), total)
	}
	for p, s := range before {
		if after[p] != s {
			t.Errorf("%s was rewritten by the rerun", p)
		}
	}
	for _, f := range []string{"sweep.json", "table.json", "table.md", "table.csv", "figure-rte.svg", "figure-rte.png"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "## RTE (accuracy)") || !strings.Contains(stdout.String(), "| compacter | ") {
		t.Errorf("stdout lacks the Markdown table:\n%s", stdout.String())
	}
	// --dry-run lists every cell as finished and runs nothing.
	dry, err := runArgs(t, append(args, "--dry-run")...)
	if err != nil || !strings.Contains(dry, "8 cells, 8 finished (0 failed), 0 to run") || !strings.Contains(dry, "cells/rte/compacter/n16/s2") {
		t.Errorf("--dry-run: %v\n%s", err, dry)
	}
	// --report-only rewrites the outputs from the cells.
	os.Remove(filepath.Join(out, "table.csv"))
	if rep, err := runArgs(t, append(args, "--report-only")...); err != nil || !strings.Contains(rep, "table.csv") {
		t.Errorf("--report-only: %v\n%s", err, rep)
	}
	if _, err := os.Stat(filepath.Join(out, "table.csv")); err != nil {
		t.Error(err)
	}
	if after := resultTimes(t, out); len(after) != total {
		t.Errorf("--report-only changed the cells")
	}
	// A grown grid reuses the finished cells.
	stdout.Reset()
	if err := run(context.Background(), append(args, "--sizes", "8,16,24", "--progress=false"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "12 cells: 4 run, 8 found finished") {
		t.Errorf("grown grid:\n%s", stdout.String())
	}
}
