package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTokenize runs the command on the reference cases of the SentencePiece
// model (the outputs of SentencePiece 0.1.97): ids, pieces and decode, with
// the model given as spiece.model, as the tokenizer.json converted from it,
// as a directory holding both and as one holding only tokenizer.json.
func TestTokenize(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "tokenizer")
	data, err := os.ReadFile(filepath.Join(dir, "cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []tokenizeCase
	var texts, idLines strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c tokenizeCase
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(c.Text, "\n\r") {
			continue // one case per input line
		}
		cases = append(cases, c)
		texts.WriteString(c.Text + "\n")
		b, _ := json.Marshal(c.IDs)
		idLines.Write(append(b, '\n'))
	}
	jsonOnly := t.TempDir()
	js, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jsonOnly, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spm := range []string{filepath.Join(dir, "spiece.model"), filepath.Join(dir, "tokenizer.json"), dir, jsonOnly} {
		t.Run(filepath.Base(spm), func(t *testing.T) { testTokenizeWith(t, spm, cases, texts.String(), idLines.String()) })
	}
}

type tokenizeCase struct {
	Text    string   `json:"text"`
	Pieces  []string `json:"pieces"`
	IDs     []int32  `json:"ids"`
	Decoded string   `json:"decoded"`
}

func testTokenizeWith(t *testing.T, spm string, cases []tokenizeCase, texts, idLines string) {
	runT := func(in string, args ...string) []string {
		var out, errb bytes.Buffer
		if err := runTokenize(append([]string{"--spm", spm}, args...), strings.NewReader(in), &out, &errb); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var lines []string
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) != len(cases) {
			t.Fatalf("%v: %d lines for %d cases", args, len(lines), len(cases))
		}
		return lines
	}
	ids, pieces, decoded := runT(texts), runT(texts, "--pieces"), runT(idLines, "--decode")
	for i, c := range cases {
		var gi []int32
		var gp []string
		var gd string
		if json.Unmarshal([]byte(ids[i]), &gi) != nil || json.Unmarshal([]byte(pieces[i]), &gp) != nil || json.Unmarshal([]byte(decoded[i]), &gd) != nil {
			t.Fatalf("case %d: bad JSON output", i)
		}
		if !slices.Equal(gi, c.IDs) || !slices.Equal(gp, c.Pieces) || gd != c.Decoded {
			t.Errorf("case %d %q: got %v %q %q, want %v %q %q", i, c.Text, gi, gp, gd, c.IDs, c.Pieces, c.Decoded)
		}
	}
	for _, bad := range [][]string{{}, {"--spm", "/nonexistent"}, {"--spm", spm, "--pieces", "--decode"}, {"--spm", t.TempDir()}} {
		if err := runTokenize(bad, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if err := runTokenize([]string{"--spm", spm, "--decode"}, strings.NewReader("not json\n"), &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("--decode of a non-array line: want an error")
	}
}

// TestTokenizeEmpty checks that a line with no tokens prints [] (not null)
// for ids and pieces, and that --decode reads [] (and null) as no ids.
func TestTokenizeEmpty(t *testing.T) {
	spm := filepath.Join("..", "..", "testdata", "tokenizer", "spiece.model")
	run := func(in string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runTokenize(append([]string{"--tokenizer", spm}, args...), strings.NewReader(in), &out, &bytes.Buffer{}); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	in := "\n   \n\t \n\u2581\nit 's a\n"
	if got, want := run(in), "[]\n[]\n[]\n[]\n[32,25,3,5]\n"; got != want {
		t.Errorf("ids:\n got %q\nwant %q", got, want)
	}
	if got, want := run(in, "--pieces"), "[]\n[]\n[]\n[]\n[\"▁it\",\"▁'\",\"s\",\"▁a\"]\n"; got != want {
		t.Errorf("pieces:\n got %q\nwant %q", got, want)
	}
	if got, want := run("[]\n null \n[32,25,3,5]\n", "--decode"), "\"\"\n\"\"\n\"it 's a\"\n"; got != want {
		t.Errorf("decode:\n got %q\nwant %q", got, want)
	}
}
