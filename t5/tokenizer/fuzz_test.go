package tokenizer

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
)

// FuzzEncodeDecode checks on arbitrary input (including invalid UTF-8) that
// encoding terminates without panicking, that the pieces tile the
// normalized text exactly, and that decode(encode(x)) equals the
// normalized x with ▁ turned back into spaces, the dummy prefix dropped and
// every unknown span shown as the unk surface.
func FuzzEncodeDecode(f *testing.F) {
	m := loadTestModel(f)
	for _, c := range loadCases(f) {
		f.Add(c.Text)
	}
	f.Add("\xff\xfe a\xc3")
	f.Add("\xe2\x96")
	f.Fuzz(func(t *testing.T, text string) {
		norm := m.Normalize(text)
		pieces := m.EncodePieces(text)
		ids := m.Encode(text)
		if got := strings.Join(pieces, ""); got != norm {
			t.Fatalf("pieces %q do not tile normalized %q", pieces, norm)
		}
		if len(pieces) != len(ids) {
			t.Fatalf("%d pieces but %d ids", len(pieces), len(ids))
		}
		var want strings.Builder
		for i, p := range pieces {
			if ids[i] == int32(m.UnkID()) {
				want.WriteString(m.unkSurface)
				continue
			}
			if p != m.IDToPiece(int(ids[i])) {
				t.Fatalf("piece %d is %q but id %d is %q", i, p, ids[i], m.IDToPiece(int(ids[i])))
			}
			if i == 0 {
				p = strings.TrimPrefix(p, spaceSymbol)
			}
			want.WriteString(strings.ReplaceAll(p, spaceSymbol, " "))
		}
		got, err := m.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		if got != want.String() {
			t.Fatalf("decode(encode(%q)) = %q, want %q", text, got, want.String())
		}
		if !strings.Contains(norm, "\u2047") && !hasUnk(ids, int32(m.UnkID())) {
			plain := strings.TrimPrefix(strings.ReplaceAll(norm, spaceSymbol, " "), " ")
			if got != plain {
				t.Fatalf("decode(encode(%q)) = %q, normalized text is %q", text, got, plain)
			}
		}
	})
}

func hasUnk(ids []int32, unk int32) bool {
	for _, id := range ids {
		if id == unk {
			return true
		}
	}
	return false
}

// TestParseErrors feeds truncated and corrupted models: they must give
// errors, never panics.
func TestParseErrors(t *testing.T) {
	b, err := os.ReadFile(testModel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load("no/such/file"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	for _, n := range []int{0, 1, 2, 5, 100, 1000, len(b) / 2, len(b) - 1} {
		if _, err := Parse(b[:n]); err == nil {
			t.Errorf("Parse of %d of %d bytes succeeded", n, len(b))
		}
	}
	c := append([]byte(nil), b...)
	for i := 7; i < len(c); i += 997 {
		c[i] ^= 0x5a
		_, _ = Parse(c) // must not panic
	}
}

// FuzzParse checks that Parse never panics on corrupted models and that a
// model it accepts can encode.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(testModel)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:200], 3, byte(1))
	f.Fuzz(func(t *testing.T, prefix []byte, at int, x byte) {
		c := append([]byte(nil), b...)
		copy(c, prefix)
		if at >= 0 && at < len(c) {
			c[at] ^= x
		}
		m, err := Parse(c)
		if err == nil {
			_ = m.Encode("Hello, wörld ｶﾀｶﾅ \xff")
		}
	})
}

// FuzzTokenizerJSON checks that ParseJSON never panics on arbitrary input,
// and that a tokenizer.json it accepts encodes any text into pieces that
// tile the normalized text, decodes its own ids, and works as a T5 model
// when it has T5's special ids.
func FuzzTokenizerJSON(f *testing.F) {
	// The seeds are small (the fuzzer minimizes every new input, which is
	// slow for kilobyte documents); TestTinyTokenizerJSON and
	// TestParseJSONErrors cover the full fixtures.
	small := `{"added_tokens":[{"id":0,"content":"<pad>","special":true},{"id":1,"content":"</s>","special":true},` +
		`{"id":3,"content":"<sep>"}],"normalizer":{"type":"Sequence","normalizers":[` +
		`{"type":"Precompiled","precompiled_charsmap":"CM"},{"type":"Strip","strip_left":false,"strip_right":true},` +
		`{"type":"Replace","pattern":{"Regex":" {2,}"},"content":"▁"}]},` +
		`"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},` +
		`"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}},` +
		`{"SpecialToken":{"id":"</s>","type_id":0}}],"special_tokens":{"</s>":{"id":"</s>","ids":[1],"tokens":["</s>"]}}},` +
		`"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},` +
		`"model":{"type":"Unigram","unk_id":2,"vocab":[["<pad>",0.0],["</s>",0.0],["<unk>",0.0],["<sep>",0.0],` +
		`["▁",-2.0],["a",-3.0],["b",-3.0],["▁ab",-1.5],["<extra_id_0>",0.0]],"byte_fallback":false}}`
	cm := base64.StdEncoding.EncodeToString(buildCharsmap(map[string]string{"A": "a", "B": "b", "\t": " "}))
	f.Add([]byte(strings.Replace(small, "CM", cm, 1)), "ab A\tB <sep> x</s>")
	f.Add([]byte(strings.Replace(small, `"CM"`, "null", 1)), "  ab  b ")
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["<0x41>",-1]],"byte_fallback":true},`+
		`"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"▁","add_prefix_space":false}]},`+
		`"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Metaspace","replacement":"▁","add_prefix_space":false}]}}`), "A\xff")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`), "a")
	f.Fuzz(func(t *testing.T, b []byte, text string) {
		m, err := ParseJSON(b)
		if err != nil {
			return
		}
		ids := m.Encode(text)
		if !m.byteFallback {
			pieces := m.EncodePieces(text)
			if len(pieces) != len(ids) {
				t.Fatalf("%d pieces but %d ids", len(pieces), len(ids))
			}
			if got, norm := strings.Join(pieces, ""), m.Normalize(text); got != norm {
				t.Fatalf("pieces %q do not tile normalized %q", pieces, norm)
			}
		}
		if _, err := m.Decode(ids); err != nil {
			t.Fatalf("decode of its own ids: %v", err)
		}
		if t5, err := NewT5(m); err == nil {
			if _, err := t5.Decode(t5.Encode(text + "<extra_id_3>")); err != nil {
				t.Fatalf("T5 decode of its own ids: %v", err)
			}
		}
	})
}
