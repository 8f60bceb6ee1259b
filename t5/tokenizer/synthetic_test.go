package tokenizer

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
)

// protoBuilder writes protobuf wire format for hand-made test models.
type protoBuilder []byte

func (p protoBuilder) key(num, typ int) protoBuilder {
	return binary.AppendUvarint(p, uint64(num<<3|typ))
}

func (p protoBuilder) bytes(num int, b []byte) protoBuilder {
	p = p.key(num, wireBytes)
	p = binary.AppendUvarint(p, uint64(len(b)))
	return append(p, b...)
}

func (p protoBuilder) varint(num int, v uint64) protoBuilder {
	return binary.AppendUvarint(p.key(num, wireVarint), v)
}

func (p protoBuilder) float(num int, f float32) protoBuilder {
	return binary.LittleEndian.AppendUint32(p.key(num, wireFixed32), math.Float32bits(f))
}

// syntheticModel builds a charsmap-free unigram model with a user-defined
// symbol, an unused piece and (if byteFallback) the 256 byte pieces.
func syntheticModel(t *testing.T, byteFallback bool) *Model {
	t.Helper()
	var mp protoBuilder
	add := func(piece string, score float32, typ int) {
		var p protoBuilder
		p = p.bytes(1, []byte(piece)).float(2, score).varint(3, uint64(typ))
		mp = mp.bytes(1, p)
	}
	add("<pad>", 0, typeControl)
	add("</s>", 0, typeControl)
	add("<unk>", 0, typeUnknown)
	add("▁", -1, typeNormal)
	add("a", -2, typeNormal)
	add("b", -2, typeNormal)
	add("ab", -1.5, typeNormal)
	add("<sep>", 0, typeUserDefined)
	add("▁abab", 0, typeUnused)
	if byteFallback {
		for i := 0; i < 256; i++ {
			add(fmt.Sprintf("<0x%02X>", i), 0, typeByte)
		}
	}
	var ts protoBuilder
	ts = ts.varint(3, 1)
	if byteFallback {
		ts = ts.varint(35, 1)
	}
	mp = mp.bytes(2, ts)
	var ns protoBuilder
	ns = ns.bytes(1, []byte("identity"))
	mp = mp.bytes(3, ns)
	m, err := Parse(mp)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSyntheticUnknownAndUserDefined(t *testing.T) {
	m := syntheticModel(t, false)
	text := "abab <sep>é\u00e9 a"
	wantPieces := []string{"▁", "ab", "ab", "▁", "<sep>", "éé", "▁", "a"}
	wantIDs := []int32{3, 6, 6, 3, 7, 2, 3, 4}
	if got := m.EncodePieces(text); !slices.Equal(got, wantPieces) {
		t.Errorf("pieces %q, want %q", got, wantPieces)
	}
	if got := m.Encode(text); !slices.Equal(got, wantIDs) {
		t.Errorf("ids %v, want %v", got, wantIDs)
	}
	if got, err := m.Decode(wantIDs); err != nil || got != "abab <sep> ⁇  a" {
		t.Errorf("decode %q, %v", got, err)
	}
}

func TestSyntheticByteFallback(t *testing.T) {
	m := syntheticModel(t, true)
	text := "ab<sep>é"
	wantPieces := []string{"▁", "ab", "<sep>", "<0xC3>", "<0xA9>"}
	wantIDs := []int32{3, 6, 7, 9 + 0xC3, 9 + 0xA9}
	if got := m.EncodePieces(text); !slices.Equal(got, wantPieces) {
		t.Errorf("pieces %q, want %q", got, wantPieces)
	}
	if got := m.Encode(text); !slices.Equal(got, wantIDs) {
		t.Errorf("ids %v, want %v", got, wantIDs)
	}
	if got, err := m.Decode(wantIDs); err != nil || got != "ab<sep>é" {
		t.Errorf("decode %q, %v", got, err)
	}
	// A lone continuation byte decodes to U+FFFD.
	if got, err := m.Decode([]int32{4, 9 + 0xA9, 5}); err != nil || got != "a\uFFFDb" {
		t.Errorf("decode of a stray byte %q, %v", got, err)
	}
}

func TestParseRejects(t *testing.T) {
	piece := func(s string, typ int) []byte {
		var p protoBuilder
		return p.bytes(1, []byte(s)).float(2, -1).varint(3, uint64(typ))
	}
	var bpe, noUnk, badByte, dup, empty protoBuilder
	bpe = bpe.bytes(1, piece("<unk>", typeUnknown)).bytes(2, protoBuilder(nil).varint(3, 2))
	noUnk = noUnk.bytes(1, piece("a", typeNormal))
	badByte = badByte.bytes(1, piece("<unk>", typeUnknown)).bytes(1, piece("<0xZZ>", typeByte))
	dup = dup.bytes(1, piece("<unk>", typeUnknown)).bytes(1, piece("a", typeNormal)).bytes(1, piece("a", typeNormal))
	empty = empty.bytes(1, piece("<unk>", typeUnknown)).bytes(1, piece("", typeNormal))
	fallback := protoBuilder(nil).bytes(1, piece("<unk>", typeUnknown)).bytes(2, protoBuilder(nil).varint(35, 1))
	for name, b := range map[string][]byte{"bpe": bpe, "no unk": noUnk, "bad byte": badByte,
		"duplicate": dup, "empty piece": empty, "fallback without bytes": fallback, "no pieces": nil} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
}

// syntheticModelNoT5 is a valid model whose special ids are not T5's.
func syntheticModelNoT5(t *testing.T) *Model {
	t.Helper()
	var p, mp protoBuilder
	p = p.bytes(1, []byte("<unk>")).varint(3, typeUnknown)
	mp = mp.bytes(1, p)
	m, err := Parse(mp)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
