package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

// TestParamsPEFTFile counts one configuration given as a file, in the
// official layout (with an option the paper's rows do not use) and in ours,
// against peft.Count.
func TestParamsPEFTFile(t *testing.T) {
	cfg, err := t5.Preset("t5-base")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	official := filepath.Join(dir, "peft.json")
	data, err := os.ReadFile("../../testdata/peft/compacter/peft.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["adapter_training_arguments"].(map[string]any)["factorized_phm_rule"] = true
	data, _ = json.Marshal(raw)
	if err := os.WriteFile(official, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := peft.ParseOfficial(data)
	if err != nil {
		t.Fatal(err)
	}
	plain := c
	plain.FactorizedPHMRule = false
	nf, _, err := peft.Count(cfg, plain)
	if err != nil {
		t.Fatal(err)
	}
	if nf2, _, _ := peft.Count(cfg, c); nf2 == nf {
		t.Fatalf("factorized_phm_rule did not change the count (%d): the file would not test it", nf)
	}
	ours := filepath.Join(dir, peft.ConfigFile)
	d, _ := peft.Default(peft.Pfeiffer)
	b, _ := json.Marshal(d)
	if err := os.WriteFile(ours, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		c    peft.Config
	}{{official, c}, {ours, d}} {
		want, _, err := peft.Count(cfg, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		out, err := runArgs(t, "params", "--peft", tc.file, "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		var r paramsRow
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
			t.Fatalf("%s: %q: %v", tc.file, out, err)
		}
		if r.Trainable != want || r.Method != string(tc.c.Method) {
			t.Errorf("%s: %s %d trainable, want %s %d", tc.file, r.Method, r.Trainable, tc.c.Method, want)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := runArgs(t, "params", "--peft", f); err == nil {
			t.Errorf("--peft %s: want an error", f)
		}
	}
}
