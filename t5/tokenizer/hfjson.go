package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrUnsupported reports a tokenizer.json that is well formed but describes
// a tokenizer this package cannot reproduce exactly (a BPE or WordPiece
// model, an unknown normalizer, pre-tokenizer, decoder or post-processor).
var ErrUnsupported = errors.New("tokenizer: unsupported tokenizer.json")

// errJSON reports a malformed tokenizer.json.
var errJSON = errors.New("tokenizer: malformed tokenizer.json")

// hfFile is the top level of a Hugging Face tokenizers file. truncation and
// padding are ignored: T5.EncodeBatch takes its own limits.
type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type hfAddedToken struct {
	ID      *int64 `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

// hfComponent holds the fields of every normalizer, pre-tokenizer,
// decoder and post-processor kind this package reads; Type says which.
type hfComponent struct {
	Type string `json:"type"`
	// Sequence
	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Decoders      []json.RawMessage `json:"decoders"`
	Processors    []json.RawMessage `json:"processors"`
	// Precompiled
	PrecompiledCharsmap *string `json:"precompiled_charsmap"`
	// Replace
	Pattern *struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content *string `json:"content"`
	// Metaspace
	Replacement    *string `json:"replacement"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	PrependScheme  *string `json:"prepend_scheme"`
	// TemplateProcessing
	Single        []map[string]hfTemplateItem `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
}

type hfTemplateItem struct {
	ID string `json:"id"`
}

type hfUnigram struct {
	UnkID        *int64              `json:"unk_id"`
	Vocab        [][]json.RawMessage `json:"vocab"`
	ByteFallback bool                `json:"byte_fallback"`
}

// maxNesting bounds Sequence-in-Sequence nesting.
const maxNesting = 8

// ParseJSON builds a Model from a Hugging Face tokenizer.json of the kind
// transformers' T5Converter writes (convert_slow_tokenizer.py): a Unigram
// model with vocab [[piece, score], …] and unk_id; a normalizer that is a
// Precompiled charsmap (the SentencePiece nmt_nfkc table, base64), alone or
// in a Sequence with Strip and Replace(" {2,}"); a Metaspace pre-tokenizer
// with replacement "▁" (alone or after WhitespaceSplit), add_prefix_space
// or prepend_scheme "always"/"first"/"never"; a Metaspace decoder; an
// optional TemplateProcessing post-processor "$A </s>"; and added_tokens.
// Older layouts (Precompiled alone, WhitespaceSplit + Metaspace with
// add_prefix_space, an untyped model) are read too.
//
// The file is read as the SentencePiece model it was converted from and
// tokenizes exactly as that spiece.model does under SentencePiece 0.1.97
// (see Load): the charsmap becomes the normalizer, Strip, Replace(" {2,}")
// or WhitespaceSplit become remove_extra_whitespaces, the Metaspace prefix
// becomes add_dummy_prefix; special added tokens inside the vocabulary are
// control pieces (never matched in text, dropped when decoding), other
// added tokens are user-defined pieces (matched before normalization),
// vocab entries "<0xHH>" are byte pieces when byte_fallback is set, and an
// unknown span decodes as " ⁇ ", SentencePiece's default unk surface. The
// vocabulary may end with T5's 100 sentinels <extra_id_99> … <extra_id_0>
// (as T5Converter writes them); they are left out of the Model, whose
// VocabSize is then the SentencePiece vocabulary, and NewT5 puts them back
// at the same ids. The post-processor, if any, must be T5's (or none):
// NewT5 appends </s> itself.
//
// Where the Hugging Face fast tokenizer departs from SentencePiece, this
// follows SentencePiece (T5's original, "slow" tokenizer): literal
// "</s>" or "<pad>" in text is ordinary text, not the special token;
// the charsmap is applied by longest match, not per grapheme; and with
// prepend_scheme "first" text after a sentinel still gets the prefix
// space, as with the legacy T5 tokenizer.
//
// Other model types (BPE, WordPiece, WordLevel) and components give an
// error wrapping ErrUnsupported; malformed JSON gives a plain error.
func ParseJSON(b []byte) (*Model, error) {
	var f hfFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", errJSON, err)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("%w: no model", errJSON)
	}
	var kind struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(f.Model, &kind); err != nil {
		return nil, fmt.Errorf("%w: model: %v", errJSON, err)
	}
	var um hfUnigram
	if kind.Type == "" {
		// Files of old tokenizers releases may leave the model untyped; a
		// Unigram is the one with a [[piece, score], …] vocab.
		if err := json.Unmarshal(f.Model, &um); err != nil || len(um.Vocab) == 0 {
			return nil, fmt.Errorf("%w: model has no type and no [[piece, score], …] vocab", errJSON)
		}
		kind.Type = "Unigram"
	}
	if kind.Type != "Unigram" {
		return nil, fmt.Errorf("%w: model type %q (only Unigram is supported)", ErrUnsupported, kind.Type)
	}
	if err := json.Unmarshal(f.Model, &um); err != nil {
		return nil, fmt.Errorf("%w: model: %v", errJSON, err)
	}
	pm := &protoModel{
		modelType:    1,
		unkSurface:   " \u2047 ",
		escapeWS:     true,
		byteFallback: um.ByteFallback,
	}
	vocab, err := readVocab(um.Vocab)
	if err != nil {
		return nil, err
	}
	nsp := len(vocab) - countSentinels(vocab)
	if nsp != len(vocab) && len(vocab)-nsp != NumSentinels {
		return nil, fmt.Errorf("%w: the vocabulary ends in %d sentinels; T5's layout has %d, <extra_id_%d> … <extra_id_0>",
			ErrUnsupported, len(vocab)-nsp, NumSentinels, NumSentinels-1)
	}
	if um.UnkID == nil {
		return nil, fmt.Errorf("%w: model has no unk_id", ErrUnsupported)
	}
	if *um.UnkID < 0 || *um.UnkID >= int64(nsp) {
		return nil, fmt.Errorf("%w: unk_id %d outside the vocabulary of %d pieces", errJSON, *um.UnkID, nsp)
	}
	pm.pieces = vocab[:nsp]
	unk := int(*um.UnkID)
	if pm.byteFallback {
		for i := range pm.pieces {
			if isBytePiece(pm.pieces[i].piece) {
				pm.pieces[i].typ = typeByte
			}
		}
	}
	for _, at := range f.AddedTokens {
		if at.ID == nil || *at.ID < 0 || *at.ID >= int64(len(vocab)) {
			return nil, fmt.Errorf("%w: added token %q has no id in the vocabulary (only added tokens inside it are supported)", ErrUnsupported, at.Content)
		}
		id := int(*at.ID)
		if vocab[id].piece != at.Content {
			return nil, fmt.Errorf("%w: added token %d is %q but vocabulary piece %d is %q", errJSON, id, at.Content, id, vocab[id].piece)
		}
		if id >= nsp || id == unk {
			continue // a sentinel, or the unknown piece
		}
		p := &pm.pieces[id]
		switch {
		case p.typ == typeByte:
		case at.Special:
			p.typ = typeControl
		default:
			p.typ = typeUserDefined
		}
	}
	pm.pieces[unk].typ = typeUnknown
	if err := readNormalizer(f.Normalizer, pm); err != nil {
		return nil, err
	}
	prefix, err := readMetaspace("pre_tokenizer", f.PreTokenizer, pm)
	if err != nil {
		return nil, err
	}
	pm.addDummyPrefix = prefix
	decPrefix, err := readMetaspace("decoder", f.Decoder, nil)
	if err != nil {
		return nil, err
	}
	if decPrefix != prefix {
		return nil, fmt.Errorf("%w: the decoder's prefix space (%v) differs from the pre_tokenizer's (%v)", ErrUnsupported, decPrefix, prefix)
	}
	if err := checkPostProcessor(f.PostProcessor, pm.pieces); err != nil {
		return nil, err
	}
	return newModel(pm, errJSON)
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

func decodeComponent(what string, r json.RawMessage) (*hfComponent, error) {
	var c hfComponent
	if err := json.Unmarshal(r, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errJSON, what, err)
	}
	if c.Type == "" {
		return nil, fmt.Errorf("%w: %s has no type", errJSON, what)
	}
	return &c, nil
}

// flatten decodes r and the members of nested Sequences, in order.
func flatten(what string, r json.RawMessage, depth int) ([]*hfComponent, error) {
	if isNull(r) {
		return nil, nil
	}
	if depth > maxNesting {
		return nil, fmt.Errorf("%w: %s: Sequences nested deeper than %d", ErrUnsupported, what, maxNesting)
	}
	c, err := decodeComponent(what, r)
	if err != nil {
		return nil, err
	}
	if c.Type != "Sequence" {
		return []*hfComponent{c}, nil
	}
	var out []*hfComponent
	for _, list := range [][]json.RawMessage{c.Normalizers, c.Pretokenizers, c.Decoders, c.Processors} {
		for _, m := range list {
			cs, err := flatten(what, m, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	}
	return out, nil
}

// readNormalizer sets pm's charsmap and remove_extra_whitespaces from the
// normalizer.
func readNormalizer(r json.RawMessage, pm *protoModel) error {
	cs, err := flatten("normalizer", r, 0)
	if err != nil {
		return err
	}
	seenCharsmap := false
	for _, c := range cs {
		switch c.Type {
		case "Precompiled":
			if seenCharsmap || pm.removeExtraWS {
				return fmt.Errorf("%w: normalizer: Precompiled must come once, before the whitespace steps", ErrUnsupported)
			}
			seenCharsmap = true
			if c.PrecompiledCharsmap == nil || *c.PrecompiledCharsmap == "" {
				continue
			}
			s := *c.PrecompiledCharsmap
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
					return fmt.Errorf("%w: normalizer: precompiled_charsmap is not base64: %v", errJSON, err)
				}
			}
			pm.charsmap = b
		case "Strip":
			pm.removeExtraWS = true
		case "Replace":
			if c.Pattern == nil || c.Pattern.Regex == nil || *c.Pattern.Regex != " {2,}" || c.Content == nil ||
				(*c.Content != " " && *c.Content != spaceSymbol) {
				return fmt.Errorf("%w: normalizer: only Replace(Regex(\" {2,}\"), \" \" or \"▁\") is supported", ErrUnsupported)
			}
			pm.removeExtraWS = true
		default:
			return fmt.Errorf("%w: normalizer %q", ErrUnsupported, c.Type)
		}
	}
	return nil
}

// readMetaspace checks that r is a Metaspace (possibly in a Sequence, after
// WhitespaceSplit when pm is not nil) with replacement "▁", and returns
// whether it adds a prefix space. WhitespaceSplit sets pm.removeExtraWS.
func readMetaspace(what string, r json.RawMessage, pm *protoModel) (bool, error) {
	if isNull(r) {
		return false, fmt.Errorf("%w: no %s (want Metaspace)", ErrUnsupported, what)
	}
	cs, err := flatten(what, r, 0)
	if err != nil {
		return false, err
	}
	var ms *hfComponent
	for _, c := range cs {
		switch {
		case c.Type == "Metaspace" && ms == nil:
			ms = c
		case c.Type == "WhitespaceSplit" && pm != nil && ms == nil:
			pm.removeExtraWS = true
		case (c.Type == "ByteFallback" || c.Type == "Fuse") && pm == nil:
			// byte pieces are joined by Model.Decode
		default:
			return false, fmt.Errorf("%w: %s %q", ErrUnsupported, what, c.Type)
		}
	}
	if ms == nil {
		return false, fmt.Errorf("%w: %s has no Metaspace", ErrUnsupported, what)
	}
	if ms.Replacement == nil || *ms.Replacement != spaceSymbol {
		got := "none"
		if ms.Replacement != nil {
			got = fmt.Sprintf("%q", *ms.Replacement)
		}
		return false, fmt.Errorf("%w: %s Metaspace replacement %s (want \"▁\")", ErrUnsupported, what, got)
	}
	if ms.PrependScheme != nil {
		switch *ms.PrependScheme {
		case "always", "first":
			return true, nil
		case "never":
			return false, nil
		default:
			return false, fmt.Errorf("%w: %s Metaspace prepend_scheme %q", ErrUnsupported, what, *ms.PrependScheme)
		}
	}
	if ms.AddPrefixSpace != nil {
		return *ms.AddPrefixSpace, nil
	}
	return true, nil // tokenizers' default
}

// readVocab decodes [[piece, score], …].
func readVocab(v [][]json.RawMessage) ([]protoPiece, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty vocab", errJSON)
	}
	out := make([]protoPiece, len(v))
	for i, e := range v {
		if len(e) != 2 {
			return nil, fmt.Errorf("%w: vocab entry %d has %d fields, want [piece, score]", errJSON, i, len(e))
		}
		var s float64
		if err := json.Unmarshal(e[0], &out[i].piece); err != nil {
			return nil, fmt.Errorf("%w: vocab entry %d piece: %v", errJSON, i, err)
		}
		if err := json.Unmarshal(e[1], &s); err != nil {
			return nil, fmt.Errorf("%w: vocab entry %d score: %v", errJSON, i, err)
		}
		if math.Abs(s) > math.MaxFloat32 {
			return nil, fmt.Errorf("%w: vocab entry %d score %g out of float32 range", errJSON, i, s)
		}
		out[i].score = float32(s)
		out[i].typ = typeNormal
	}
	return out, nil
}

// countSentinels returns the length of the run of vocab entries at the end
// that are <extra_id_N> sentinels in T5's order (the last is <extra_id_0>).
func countSentinels(v []protoPiece) int {
	k := 0
	for k < len(v) && k < NumSentinels && v[len(v)-1-k].piece == fmt.Sprintf("<extra_id_%d>", k) {
		k++
	}
	if k < len(v) && strings.HasPrefix(v[len(v)-1-k].piece, "<extra_id_") {
		// a sentinel out of order: report it as a bad count
		return k + 1
	}
	return k
}

// isBytePiece reports whether s is "<0xHH>" with upper-case hex digits.
func isBytePiece(s string) bool {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return false
	}
	for _, c := range s[3:5] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// checkPostProcessor accepts no post-processor or T5's TemplateProcessing,
// whose single template is "$A" or "$A </s>".
func checkPostProcessor(r json.RawMessage, pieces []protoPiece) error {
	if isNull(r) {
		return nil
	}
	c, err := decodeComponent("post_processor", r)
	if err != nil {
		return err
	}
	if c.Type != "TemplateProcessing" {
		return fmt.Errorf("%w: post_processor %q (want TemplateProcessing \"$A </s>\")", ErrUnsupported, c.Type)
	}
	var parts []string
	for _, item := range c.Single {
		for k, v := range item {
			switch k {
			case "Sequence":
				parts = append(parts, "$"+v.ID)
			case "SpecialToken":
				parts = append(parts, v.ID)
			default:
				parts = append(parts, k)
			}
		}
	}
	tmpl := strings.Join(parts, " ")
	switch tmpl {
	case "$A":
		return nil
	case "$A </s>":
		st, ok := c.SpecialTokens["</s>"]
		if !ok || len(st.IDs) != 1 || st.IDs[0] < 0 || st.IDs[0] >= int64(len(pieces)) || pieces[st.IDs[0]].piece != "</s>" {
			return fmt.Errorf("%w: post_processor: special token </s> does not map to the vocabulary's </s>", errJSON)
		}
		return nil
	}
	return fmt.Errorf("%w: post_processor template %q (want \"$A </s>\")", ErrUnsupported, tmpl)
}
