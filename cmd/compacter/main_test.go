package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), err
}

func TestKernelsJSON(t *testing.T) {
	cases := [][]string{
		{"--op", "sgemm", "--m", "17", "--k", "9", "--n", "33"},
		{"--op", "lphm", "--in", "48", "--out", "24", "--n", "4", "--rows", "5"},
		{"--op", "phm", "--in", "24", "--out", "12", "--n", "3", "--rows", "3", "--algo", "auto"},
		{"--op", "fwht", "--size", "256", "--batch", "3"},
	}
	for _, backend := range []string{"cpu", "purego"} {
		for _, c := range cases {
			args := append([]string{"kernels", "--backend", backend, "--format", "json", "--min-time", "1ms"}, c...)
			out, err := runArgs(t, args...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			sc := bufio.NewScanner(strings.NewReader(out))
			n := 0
			for sc.Scan() {
				var m measurement
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatalf("%v: bad JSON line %q: %v", args, sc.Text(), err)
				}
				if m.Op != c[1] || m.Backend != backend || m.NsPerOp <= 0 || m.Threads < 1 || (m.GFLOPS <= 0 && m.GBPS <= 0) {
					t.Errorf("%v: implausible measurement %+v", args, m)
				}
				n++
			}
			if n == 0 {
				t.Errorf("%v: no measurement printed", args)
			}
		}
	}
}

func TestKernelsTable(t *testing.T) {
	out, err := runArgs(t, "kernels", "--op", "sgemm", "--m", "8", "--k", "8", "--n", "8", "--min-time", "1ms", "--threads", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "GFLOP/s") || !strings.Contains(out, "8x8x8") {
		t.Errorf("table lacks header or shape:\n%s", out)
	}
}

func TestBadInput(t *testing.T) {
	bad := [][]string{
		{},
		{"frobnicate"},
		{"kernels", "--op", "nope"},
		{"kernels", "--format", "xml"},
		{"kernels", "--op", "fwht", "--size", "100"},
		{"kernels", "--op", "lphm", "--in", "10", "--n", "4"},
		{"kernels", "--op", "sgemm", "--m", "-1"},
		{"kernels", "--backend", "no-such-backend", "--op", "sgemm"},
		{"kernels", "extra"},
		{"backends", "x"},
	}
	for _, args := range bad {
		if _, err := runArgs(t, args...); err == nil {
			t.Errorf("%q: want an error", args)
		}
	}
}

func TestBackends(t *testing.T) {
	out, err := runArgs(t, "backends")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "purego") || !strings.Contains(out, "*") {
		t.Errorf("backends output lacks purego or the default mark:\n%s", out)
	}
}

func TestParams(t *testing.T) {
	out, err := runArgs(t, "params", "--model", "t5-base", "--vocab", "32100", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	// The official code's counts at the t5-base shape (refdata's paper table).
	want := map[string]int64{"adapter": 1855104, "compacter": 161728, "compacter-pp": 104704,
		"full-finetune": 222882048, "bitfit": 280932, "intrinsic-said": 20000}
	got := map[string]paramsRow{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r paramsRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		got[r.Method] = r
	}
	if len(got) != 11 {
		t.Errorf("%d methods, want 11", len(got))
	}
	for m, n := range want {
		if got[m].Trainable != n {
			t.Errorf("%s: %d trainable, want %d", m, got[m].Trainable, n)
		}
	}
	if p := got["compacter"].Percent; p != "0.073" {
		t.Errorf("compacter: %s%%, want 0.073", p)
	}
	table, err := runArgs(t, "params")
	if err != nil || !strings.Contains(table, "compacter-pp") {
		t.Errorf("table: %v\n%s", err, table)
	}
	for _, bad := range [][]string{{"params", "--format", "xml"}, {"params", "--model", "t5-tiny-nope"}, {"params", "x"}} {
		if _, err := runArgs(t, bad...); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// TestDefaultSpecs checks the default set: the T5 SGEMM shapes, LPHM with
// rank 1 and PHM with full-rank terms, both algorithms, and FWHT.
func TestDefaultSpecs(t *testing.T) {
	f, err := parseKernelFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	specs, err := f.specs()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, s := range specs {
		count[s.op]++
		if s.op == "phm" && s.rank != 0 || s.op == "lphm" && s.rank != 1 {
			t.Errorf("%s with rank %d", s.op, s.rank)
		}
	}
	if count["sgemm"] != 4 || count["lphm"] != 2 || count["phm"] != 2 || count["fwht"] != 3 {
		t.Errorf("default set %v", count)
	}
}
