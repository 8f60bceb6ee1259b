package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const testModel = "../../testdata/tokenizer/spiece.model"

// refCase is one line of testdata/tokenizer/cases.jsonl (SentencePiece
// 0.1.97 outputs).
type refCase struct {
	Text    string   `json:"text"`
	Pieces  []string `json:"pieces"`
	IDs     []int32  `json:"ids"`
	Decoded string   `json:"decoded"`
}

func loadTestModel(tb testing.TB) *Model {
	tb.Helper()
	m, err := Load(testModel)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func loadCases(tb testing.TB) []refCase {
	tb.Helper()
	return loadCasesFrom(tb, "../../testdata/tokenizer/cases.jsonl")
}

// loadCasesFrom reads a cases.jsonl file.
func loadCasesFrom(tb testing.TB, path string) []refCase {
	tb.Helper()
	f, err := os.Open(filepath.FromSlash(path))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []refCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c refCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("case %d: %v", len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return cases
}

// TestReferenceCases checks every SentencePiece 0.1.97 case: pieces, ids
// and decoded text must all match exactly.
func TestReferenceCases(t *testing.T) {
	m := loadTestModel(t)
	cases := loadCases(t)
	if len(cases) != 321 {
		t.Fatalf("got %d cases, want 321", len(cases))
	}
	pass := 0
	for i, c := range cases {
		ok := true
		if got := m.EncodePieces(c.Text); !slices.Equal(got, c.Pieces) {
			t.Errorf("case %d %q: pieces\n got %q\nwant %q", i+1, c.Text, got, c.Pieces)
			ok = false
		}
		if got := m.Encode(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("case %d %q: ids\n got %v\nwant %v", i+1, c.Text, got, c.IDs)
			ok = false
		}
		got, err := m.Decode(c.IDs)
		if err != nil || got != c.Decoded {
			t.Errorf("case %d %q: decode got %q (%v), want %q", i+1, c.Text, got, err, c.Decoded)
			ok = false
		}
		if ok {
			pass++
		}
	}
	t.Logf("%d of %d reference cases match exactly", pass, len(cases))
}
