package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/tokenizer/tokenizer.json from spiece.model")

const (
	testJSON  = "../../testdata/tokenizer/tokenizer.json"
	tinyJSON  = "../../testdata/tokenizer/tiny-tokenizer.json"
	sharedSPM = "../../../shared/refdata/spm"
)

// TestTokenizerJSONFixture checks that testdata/tokenizer/tokenizer.json is
// the T5Converter-style conversion of testdata/tokenizer/spiece.model.
func TestTokenizerJSONFixture(t *testing.T) {
	want := convertFile(t, testModel)
	if *update {
		if err := os.WriteFile(testJSON, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(testJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the conversion of %s; rerun with -update", testJSON, testModel)
	}
}

// TestTokenizerJSONReference checks, on every SentencePiece 0.1.97
// reference case, that the tokenizer.json converted from spiece.model
// gives the reference pieces, ids and decoded text, as spiece.model does,
// and that both give the same T5 encodings. It runs on the shared
// reference (when present) and on its copy in testdata.
func TestTokenizerJSONReference(t *testing.T) {
	for _, src := range []struct{ name, dir string }{
		{"testdata", "../../testdata/tokenizer"},
		{"shared", sharedSPM},
	} {
		t.Run(src.name, func(t *testing.T) {
			spmPath := filepath.Join(src.dir, "spiece.model")
			if _, err := os.Stat(spmPath); errors.Is(err, fs.ErrNotExist) && src.name == "shared" {
				t.Skipf("%s absent (the shared reference is not checked out)", spmPath)
			}
			spm, err := Load(spmPath)
			if err != nil {
				t.Fatal(err)
			}
			js, err := ParseJSON(convertFile(t, spmPath))
			if err != nil {
				t.Fatal(err)
			}
			cases := loadCasesFrom(t, filepath.Join(src.dir, "cases.jsonl"))
			if len(cases) != 321 {
				t.Fatalf("%d cases, want 321", len(cases))
			}
			compareModels(t, spm, js, cases)
		})
	}
}

// compareModels checks js against the reference cases and against spm.
func compareModels(t *testing.T, spm, js *Model, cases []refCase) {
	t.Helper()
	if spm.VocabSize() != js.VocabSize() || spm.UnkID() != js.UnkID() {
		t.Fatalf("vocab %d unk %d, spiece.model has %d %d", js.VocabSize(), js.UnkID(), spm.VocabSize(), spm.UnkID())
	}
	for id := 0; id < spm.VocabSize(); id++ {
		if spm.pieces[id] != js.pieces[id] {
			t.Fatalf("piece %d: %+v, spiece.model has %+v", id, js.pieces[id], spm.pieces[id])
		}
	}
	ts, err := NewT5(spm)
	if err != nil {
		t.Fatal(err)
	}
	tj, err := NewT5(js)
	if err != nil {
		t.Fatal(err)
	}
	if ts.VocabSize() != tj.VocabSize() || ts.SentinelID(0) != tj.SentinelID(0) || ts.SentinelID(99) != tj.SentinelID(99) {
		t.Fatalf("T5 vocab %d sentinels %d %d, spiece.model %d %d %d", tj.VocabSize(), tj.SentinelID(0), tj.SentinelID(99),
			ts.VocabSize(), ts.SentinelID(0), ts.SentinelID(99))
	}
	pass := 0
	var texts []string
	for i, c := range cases {
		ok := true
		if got := js.Normalize(c.Text); got != spm.Normalize(c.Text) {
			t.Errorf("case %d %q: normalized %q, spiece.model %q", i+1, c.Text, got, spm.Normalize(c.Text))
			ok = false
		}
		if got := js.EncodePieces(c.Text); !slices.Equal(got, c.Pieces) {
			t.Errorf("case %d %q: pieces\n got %q\nwant %q", i+1, c.Text, got, c.Pieces)
			ok = false
		}
		if got := js.Encode(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("case %d %q: ids\n got %v\nwant %v", i+1, c.Text, got, c.IDs)
			ok = false
		}
		if got, err := js.Decode(c.IDs); err != nil || got != c.Decoded {
			t.Errorf("case %d %q: decode %q (%v), want %q", i+1, c.Text, got, err, c.Decoded)
			ok = false
		}
		withSentinel := c.Text + "<extra_id_0> x<extra_id_99>" + c.Text
		a, b := ts.Encode(withSentinel), tj.Encode(withSentinel)
		if !slices.Equal(a, b) {
			t.Errorf("case %d: T5 ids %v, spiece.model %v", i+1, b, a)
			ok = false
		}
		da, erra := ts.Decode(a)
		db, errb := tj.Decode(a)
		if da != db || erra != nil || errb != nil {
			t.Errorf("case %d: T5 decode %q (%v), spiece.model %q (%v)", i+1, db, errb, da, erra)
			ok = false
		}
		if ok {
			pass++
		}
		texts = append(texts, c.Text)
	}
	ia, ma, sa, _ := ts.EncodeBatch(texts, 64)
	ib, mb, sb, err := tj.EncodeBatch(texts, 64)
	if err != nil || sa != sb || !slices.Equal(ia, ib) || !slices.Equal(ma, mb) {
		t.Errorf("EncodeBatch differs from spiece.model's (seq %d vs %d, %v)", sb, sa, err)
	}
	t.Logf("%d of %d cases: tokenizer.json equals the reference and spiece.model", pass, len(cases))
}

// TestLoadDirAndFile checks Load on files and model directories: a
// directory with only tokenizer.json loads it, one with both uses
// spiece.model, one with neither is an error.
func TestLoadDirAndFile(t *testing.T) {
	spmBytes, err := os.ReadFile(testModel)
	if err != nil {
		t.Fatal(err)
	}
	jsonBytes, err := os.ReadFile(testJSON)
	if err != nil {
		t.Fatal(err)
	}
	write := func(dir, name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spm := loadTestModel(t)
	cases := loadCases(t)

	onlyJSON := t.TempDir()
	write(onlyJSON, JSONFile, jsonBytes)
	m, err := Load(onlyJSON)
	if err != nil {
		t.Fatal(err)
	}
	compareModels(t, spm, m, cases)
	tok, err := LoadT5(onlyJSON)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("it 's a"); !slices.Equal(got, []int32{32, 25, 3, 5, EOSID}) {
		t.Errorf("LoadT5(dir).Encode = %v", got)
	}

	// Both: spiece.model wins, so a broken tokenizer.json is not read and a
	// broken spiece.model is an error rather than a silent fallback.
	both := t.TempDir()
	write(both, SPMFile, spmBytes)
	write(both, JSONFile, []byte("{broken"))
	if m, err := Load(both); err != nil || m.VocabSize() != 2000 {
		t.Fatalf("Load(dir with both) = %v, %v", m, err)
	}
	write(both, SPMFile, spmBytes[:100])
	write(both, JSONFile, jsonBytes)
	if _, err := Load(both); err == nil || !strings.Contains(err.Error(), SPMFile) {
		t.Fatalf("Load(dir with a broken spiece.model) error = %v, want one naming %s", err, SPMFile)
	}

	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("Load(empty dir) error = %v", err)
	}
	// The .json suffix picks the parser, case-insensitively.
	upper := filepath.Join(t.TempDir(), "T.JSON")
	if err := os.WriteFile(upper, jsonBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(upper); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadT5(tinyJSON); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadT5(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("LoadT5 of a missing file succeeded")
	}
}

// TestTinyTokenizerJSON reads the hand-written fixture, which has the
// older T5 layout (Precompiled alone, WhitespaceSplit + Metaspace with
// add_prefix_space, no sentinels, no byte_fallback field) and a
// user-defined added token; the expected ids follow from its scores by
// hand.
func TestTinyTokenizerJSON(t *testing.T) {
	m, err := Load(tinyJSON)
	if err != nil {
		t.Fatal(err)
	}
	if m.VocabSize() != 16 || m.UnkID() != 2 || m.IDToPiece(11) != "<sep>" {
		t.Fatalf("vocab %d unk %d piece 11 %q", m.VocabSize(), m.UnkID(), m.IDToPiece(11))
	}
	types := map[int]int{0: typeControl, 1: typeControl, 2: typeUnknown, 3: typeNormal, 11: typeUserDefined, 15: typeNormal}
	for id, typ := range types {
		if m.pieces[id].typ != typ {
			t.Errorf("piece %d type %d, want %d", id, m.pieces[id].typ, typ)
		}
	}
	if m.pieces[7].score != -1.5 || m.pieces[15].score != -2.2 {
		t.Errorf("scores %v %v", m.pieces[7].score, m.pieces[15].score)
	}
	for _, c := range []struct {
		text   string
		ids    []int32
		decode string
	}{
		{"ab", []int32{7}, "ab"},                  // ▁ab -1.5 beats ▁+ab -4.5
		{"b", []int32{15}, "b"},                   // ▁b
		{"  ａｂ \t  ａ  ", []int32{7, 8}, "ab a"},   // charsmap, whitespace runs
		{"\u3000ab", []int32{7}, "ab"},            // ideographic space → space, stripped
		{"ﬁ…", []int32{3, 14, 10}, "fi..."},       // ▁ fi ...
		{"a<sep>b", []int32{8, 11, 5}, "a<sep>b"}, // user-defined piece
		{"</s>", []int32{3, 2}, " ⁇ "},            // control pieces are not matched
		{"x y", []int32{3, 2, 3, 2}, " ⁇   ⁇ "},   // unknowns
		{"", nil, ""},
	} {
		got := m.Encode(c.text)
		if !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
		if d, err := m.Decode(c.ids); err != nil || d != c.decode {
			t.Errorf("Decode(%v) = %q, %v, want %q", c.ids, d, err, c.decode)
		}
	}
	if d, err := m.Decode([]int32{0, 7, 1, 0}); err != nil || d != "ab" {
		t.Errorf("Decode with control ids = %q, %v", d, err)
	}
	tok, err := NewT5(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("ab<extra_id_0>b"); !slices.Equal(got, []int32{7, 115, 15, EOSID}) || tok.VocabSize() != 116 {
		t.Errorf("T5 Encode = %v, VocabSize %d", got, tok.VocabSize())
	}
}

// tinyDoc returns the tiny fixture as a generic JSON value.
func tinyDoc(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile(tinyJSON)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseJSONErrors checks that unsupported variants give errors
// wrapping ErrUnsupported and malformed files other errors, never panics.
func TestParseJSONErrors(t *testing.T) {
	model := func(d map[string]any) map[string]any { return d["model"].(map[string]any) }
	vocab := func(d map[string]any) []any { return model(d)["vocab"].([]any) }
	withSentinels := func(d map[string]any, n int) {
		v := vocab(d)
		for i := n - 1; i >= 0; i-- {
			v = append(v, []any{"<extra_id_" + itoa(i) + ">", 0.0})
		}
		model(d)["vocab"] = v
	}
	for _, c := range []struct {
		name        string
		edit        func(d map[string]any)
		unsupported bool
	}{
		{"BPE model", func(d map[string]any) { model(d)["type"] = "BPE" }, true},
		{"WordPiece model", func(d map[string]any) {
			d["model"] = map[string]any{"type": "WordPiece", "vocab": map[string]any{"a": 0}}
		}, true},
		{"NFKC normalizer", func(d map[string]any) { d["normalizer"] = map[string]any{"type": "NFKC"} }, true},
		{"Lowercase in a Sequence", func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{d["normalizer"], map[string]any{"type": "Lowercase"}}}
		}, true},
		{"other Replace", func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"}
		}, true},
		{"Precompiled after Strip", func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Strip"}, d["normalizer"]}}
		}, true},
		{"no pre_tokenizer", func(d map[string]any) { d["pre_tokenizer"] = nil }, true},
		{"ByteLevel pre_tokenizer", func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "ByteLevel"} }, true},
		{"Metaspace replacement _", func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "_"}
		}, true},
		{"prepend_scheme sometimes", func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}
		}, true},
		{"decoder prefix mismatch", func(d map[string]any) {
			d["decoder"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"}
		}, true},
		{"WordPiece decoder", func(d map[string]any) { d["decoder"] = map[string]any{"type": "WordPiece"} }, true},
		{"BertProcessing", func(d map[string]any) { d["post_processor"] = map[string]any{"type": "BertProcessing"} }, true},
		{"template <s> $A </s>", func(d map[string]any) {
			pp := d["post_processor"].(map[string]any)
			pp["single"] = append([]any{map[string]any{"SpecialToken": map[string]any{"id": "<s>"}}}, pp["single"].([]any)...)
		}, true},
		{"99 sentinels", func(d map[string]any) { withSentinels(d, 99) }, true},
		{"101 sentinels", func(d map[string]any) { withSentinels(d, 101) }, true},
		{"no unk_id", func(d map[string]any) { delete(model(d), "unk_id") }, true},
		{"added token outside the vocabulary", func(d map[string]any) {
			d["added_tokens"] = append(d["added_tokens"].([]any), map[string]any{"id": 16, "content": "<new>", "special": true})
		}, true},
		{"unk_id out of range", func(d map[string]any) { model(d)["unk_id"] = 16 }, false},
		{"negative unk_id", func(d map[string]any) { model(d)["unk_id"] = -1 }, false},
		{"added token content mismatch", func(d map[string]any) {
			d["added_tokens"].([]any)[3].(map[string]any)["content"] = "<SEP>"
		}, false},
		{"vocab entry of 3 fields", func(d map[string]any) { vocab(d)[4] = []any{"a", -3.0, 1} }, false},
		{"vocab score a string", func(d map[string]any) { vocab(d)[4] = []any{"a", "-3"} }, false},
		{"score beyond float32", func(d map[string]any) { vocab(d)[4] = []any{"a", -1e300} }, false},
		{"duplicate piece", func(d map[string]any) { vocab(d)[5] = []any{"a", -3.0} }, false},
		{"empty piece", func(d map[string]any) { vocab(d)[5] = []any{"", -3.0} }, false},
		{"empty vocab", func(d map[string]any) { model(d)["vocab"] = []any{} }, false},
		{"no model", func(d map[string]any) { delete(d, "model") }, false},
		{"untyped model with a map vocab", func(d map[string]any) { d["model"] = map[string]any{"vocab": map[string]any{"a": 0}} }, false},
		{"charsmap not base64", func(d map[string]any) { d["normalizer"].(map[string]any)["precompiled_charsmap"] = "%%%" }, false},
		{"charsmap truncated", func(d map[string]any) { d["normalizer"].(map[string]any)["precompiled_charsmap"] = "AQID" }, false},
		{"normalizer without type", func(d map[string]any) { d["normalizer"] = map[string]any{"x": 1} }, false},
		{"template </s> with a wrong id", func(d map[string]any) {
			d["post_processor"].(map[string]any)["special_tokens"] = map[string]any{"</s>": map[string]any{"ids": []any{0}}}
		}, false},
	} {
		d := tinyDoc(t)
		c.edit(d)
		_, err := ParseJSON(mustJSON(t, d))
		if err == nil {
			t.Errorf("%s: ParseJSON succeeded", c.name)
			continue
		}
		if errors.Is(err, ErrUnsupported) != c.unsupported {
			t.Errorf("%s: error %q, ErrUnsupported %v, want %v", c.name, err, errors.Is(err, ErrUnsupported), c.unsupported)
		}
	}
	for _, b := range []string{"", "null", "[]", "{", `{"model": 3}`, `{"model": {"type": "Unigram", "vocab": [["a"]]}}`} {
		if _, err := ParseJSON([]byte(b)); err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("ParseJSON(%q) error = %v, want a malformed-file error", b, err)
		}
	}
	// Variants that are accepted: null charsmap, prepend_scheme, post
	// processor absent, an untyped model, T5's 100 sentinels.
	for _, c := range []struct {
		name string
		edit func(d map[string]any)
	}{
		{"null charsmap", func(d map[string]any) { d["normalizer"].(map[string]any)["precompiled_charsmap"] = nil }},
		{"no normalizer", func(d map[string]any) { d["normalizer"] = nil }},
		{"prepend_scheme first", func(d map[string]any) {
			ms := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
			d["pre_tokenizer"], d["decoder"] = ms, ms
		}},
		{"no post_processor", func(d map[string]any) { delete(d, "post_processor") }},
		{"untyped model", func(d map[string]any) { delete(model(d), "type") }},
		{"Metaspace with both prefix fields", func(d map[string]any) {
			ms := map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": false, "prepend_scheme": "always"}
			d["pre_tokenizer"], d["decoder"] = ms, ms
		}},
		{"100 sentinels", func(d map[string]any) { withSentinels(d, 100) }},
	} {
		d := tinyDoc(t)
		c.edit(d)
		if _, err := ParseJSON(mustJSON(t, d)); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
