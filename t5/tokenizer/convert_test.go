package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// This file converts a parsed spiece.model into a tokenizer.json the way
// transformers' T5Converter (convert_slow_tokenizer.py, SpmConverter with
// T5Converter.vocab and .post_processor) does with a current tokenizers
// release, so that the tokenizer.json loader can be checked against the
// spiece.model it came from:
//
//   - model: Unigram, vocab = the pieces with their scores, then the
//     extra ids <extra_id_{n-1}> … <extra_id_0> with score 0; unk_id =
//     the unknown piece; byte_fallback false (T5Converter does not set
//     handle_byte_fallback).
//   - added_tokens: the control pieces (special), the user-defined pieces
//     (not special), then <unk> and the extra ids, which T5TokenizerFast
//     adds as special tokens; normalized false; sorted by id.
//   - normalizer: Sequence[Precompiled(charsmap), Strip(right),
//     Replace(Regex(" {2,}"), "▁")].
//   - pre_tokenizer and decoder: Metaspace("▁", prepend_scheme "always",
//     split true), the legacy T5 setting.
//   - post_processor: TemplateProcessing single "$A </s>", pair
//     "$A </s> $B </s>".

// orderedObj marshals its keys in the given order, as tokenizers does.
type orderedObj []struct {
	k string
	v any
}

func (o orderedObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshalNoEscape(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoEscape(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func obj(kv ...any) orderedObj {
	o := make(orderedObj, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, struct {
			k string
			v any
		}{kv[i].(string), kv[i+1]})
	}
	return o
}

// hfScore is a piece score written as serde_json writes an f64: the
// shortest round-trip digits, with ".0" on whole numbers.
type hfScore float64

func (s hfScore) MarshalJSON() ([]byte, error) {
	f := float64(s)
	if f != 0 && math.Abs(f) < 1e-5 {
		return []byte(strconv.FormatFloat(f, 'e', -1, 64)), nil
	}
	out := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(out, ".") {
		out += ".0"
	}
	return []byte(out), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// convertT5 writes the tokenizer.json of the SentencePiece model b with
// extraIDs sentinels.
func convertT5(tb testing.TB, b []byte, extraIDs int) []byte {
	tb.Helper()
	pm, err := parseModelProto(b)
	if err != nil {
		tb.Fatal(err)
	}
	var vocab [][2]any
	var added []any
	unk := -1
	addTok := func(id int, s string, special bool) {
		added = append(added, obj("id", id, "content", s, "single_word", false, "lstrip", false,
			"rstrip", false, "normalized", false, "special", special))
	}
	for i, p := range pm.pieces {
		vocab = append(vocab, [2]any{p.piece, hfScore(p.score)})
		switch p.typ {
		case typeControl:
			addTok(i, p.piece, true)
		case typeUserDefined:
			addTok(i, p.piece, false)
		case typeUnknown:
			unk = i
			addTok(i, p.piece, true)
		}
	}
	for n := extraIDs - 1; n >= 0; n-- {
		s := fmt.Sprintf("<extra_id_%d>", n)
		addTok(len(vocab), s, true)
		vocab = append(vocab, [2]any{s, hfScore(0)})
	}
	eos := -1
	for i, p := range pm.pieces {
		if p.piece == "</s>" {
			eos = i
		}
	}
	seq := func(id string) any { return obj("Sequence", obj("id", id, "type_id", 0)) }
	special := func(id string) any { return obj("SpecialToken", obj("id", id, "type_id", 0)) }
	metaspace := obj("type", "Metaspace", "replacement", "▁", "prepend_scheme", "always", "split", true)
	normalizers := []any{
		obj("type", "Strip", "strip_left", false, "strip_right", true),
		obj("type", "Replace", "pattern", obj("Regex", " {2,}"), "content", "▁"),
	}
	if len(pm.charsmap) > 0 {
		normalizers = append([]any{obj("type", "Precompiled",
			"precompiled_charsmap", base64.StdEncoding.EncodeToString(pm.charsmap))}, normalizers...)
	}
	doc := obj(
		"version", "1.0",
		"truncation", nil,
		"padding", nil,
		"added_tokens", added,
		"normalizer", obj("type", "Sequence", "normalizers", normalizers),
		"pre_tokenizer", metaspace,
		"post_processor", obj("type", "TemplateProcessing",
			"single", []any{seq("A"), special("</s>")},
			"pair", []any{seq("A"), special("</s>"), seq("B"), special("</s>")},
			"special_tokens", obj("</s>", obj("id", "</s>", "ids", []int{eos}, "tokens", []string{"</s>"}))),
		"decoder", metaspace,
		"model", obj("type", "Unigram", "unk_id", unk, "vocab", vocab, "byte_fallback", false),
	)
	out, err := marshalNoEscape(doc)
	if err != nil {
		tb.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "  "); err != nil {
		tb.Fatal(err)
	}
	return append(pretty.Bytes(), '\n')
}

// convertFile converts the spiece.model at path with T5's 100 extra ids.
func convertFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return convertT5(tb, b, NumSentinels)
}
