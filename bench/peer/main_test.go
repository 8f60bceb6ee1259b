package main

import (
	"bytes"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParsePeer(t *testing.T) {
	out := []byte("noise\nBENCH_RESULT {\"median_step_s\": 1.5, \"peak_rss_mib\": 900.5, \"trainable_params\": 42}\n")
	r, err := parsePeer(out)
	if err != nil || r.SecPerStep != 1.5 || r.PeakRSSMiB != 900.5 || r.Trainable != 42 {
		t.Fatalf("%+v, %v", r, err)
	}
	for _, bad := range []string{"", "no mark\n", "BENCH_RESULT {bad json\n", "BENCH_RESULT {\"peak_rss_mib\": 3}\n"} {
		if _, err := parsePeer([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// A harness-reported failure is a result with its error.
	r, err = parsePeer([]byte("BENCH_RESULT {\"error\": \"RSS guard\"}\n"))
	if err != nil || r.Error != "RSS guard" {
		t.Errorf("%+v, %v", r, err)
	}
}

func TestSummarize(t *testing.T) {
	s := []sample{
		{Side: "ours", Shape: "t5-small", Method: "compacter", Round: 1, SecPerStep: 1, PeakRSSMiB: 500, Trainable: 7},
		{Side: "peer", Shape: "t5-small", Method: "compacter", Round: 1, SecPerStep: 2, PeakRSSMiB: 1000, Trainable: 7},
		{Side: "peer", Shape: "t5-small", Method: "compacter", Round: 2, SecPerStep: 4, PeakRSSMiB: 1000},
		{Side: "ours", Shape: "t5-small", Method: "compacter", Round: 2, SecPerStep: 3, PeakRSSMiB: 700},
		{Side: "ours", Shape: "t5-small", Method: "compacter", Round: 3, SecPerStep: 9},
		{Side: "peer", Shape: "t5-small", Method: "compacter", Round: 3, Error: "boom"},
	}
	rows := summarize(s, []string{"t5-small"}, []string{"compacter", "adapter"})
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.OursMedian != 2 || r.PeerMedian != 3 || math.Abs(r.Ratio-2.0/3) > 1e-12 || r.FailedRounds != 1 ||
		len(r.RoundRatios) != 2 || r.RoundRatios[0] != 0.5 || r.RoundRatios[1] != 0.75 || r.RSSRatio != 0.6 {
		t.Errorf("row %+v", r)
	}
	if len(rows[1].Ours) != 0 {
		t.Errorf("adapter had no samples: %+v", rows[1])
	}
	var b bytes.Buffer
	if err := writeSummary(&b, report{Summary: rows}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "**0.67** (0.50, 0.75)") || !strings.Contains(b.String(), "| adapter") {
		t.Errorf("summary:\n%s", b.String())
	}
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-src", ""},
		{"-src", dir},
		{"-src", dir, "-shapes", "t5-huge"},
		{"-src", dir, "-batch", "4"},
		{"-src", dir, "-rounds", "0"},
		{"-src", dir, "-peer-env", "NOEQUALS"},
		{"-src", dir, "-methods", ""},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestPeerEnviron(t *testing.T) {
	base := []string{"PATH=/bin", "OPENBLAS_CORETYPE=Haswell", "OPENBLAS_L2_SIZE=512", "HOME=/root"}
	env, dropped := peerEnviron(base, []string{"OPENBLAS_CORETYPE=SKYLAKEX", "LD_LIBRARY_PATH=/x"})
	want := []string{"PATH=/bin", "HOME=/root", "OPENBLAS_CORETYPE=SKYLAKEX", "LD_LIBRARY_PATH=/x"}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("env = %q, want %q", env, want)
	}
	if strings.Join(dropped, " ") != "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512" {
		t.Errorf("dropped = %q", dropped)
	}
}

func TestPeerCoreTypeDefault(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Haswell") // the machine's own setting does not count
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/seq2seq", 0o755); err != nil {
		t.Fatal(err)
	}
	h := dir + "/h.py"
	if err := os.WriteFile(h, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parseFlags([]string{"-src", dir, "-harness", h}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Contains(c.peerEnv, "OPENBLAS_CORETYPE=SKYLAKEX")
	if want := cpuFlag("avx512f"); got != want {
		t.Errorf("peer env %q: SKYLAKEX set %v, want %v (CPU has AVX-512: %v)", c.peerEnv, got, want, want)
	}
	c, err = parseFlags([]string{"-src", dir, "-harness", h, "-peer-env", "OPENBLAS_CORETYPE=ZEN"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(c.peerEnv, "OPENBLAS_CORETYPE=SKYLAKEX") {
		t.Errorf("-peer-env OPENBLAS_CORETYPE=ZEN was overridden: %q", c.peerEnv)
	}
}
