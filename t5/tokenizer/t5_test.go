package tokenizer

import (
	"errors"
	"slices"
	"testing"
)

func loadT5(tb testing.TB) *T5 {
	tb.Helper()
	t5, err := NewT5(loadTestModel(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return t5
}

func TestT5Encode(t *testing.T) {
	t5 := loadT5(t)
	if got := t5.VocabSize(); got != 2100 {
		t.Fatalf("VocabSize = %d, want 2100", got)
	}
	if a, b := t5.SentinelID(0), t5.SentinelID(99); a != 2099 || b != 2000 {
		t.Fatalf("SentinelID(0), SentinelID(99) = %d, %d, want 2099, 2000", a, b)
	}
	if t5.SentinelID(100) != -1 || t5.SentinelID(-1) != -1 {
		t.Fatal("SentinelID out of range should be -1")
	}
	// "it 's a" → [32 25 3 5] in the reference cases.
	if got, want := t5.Encode("it 's a"), []int32{32, 25, 3, 5, EOSID}; !slices.Equal(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
	if got := t5.Encode(""); !slices.Equal(got, []int32{EOSID}) {
		t.Fatalf("Encode(\"\") = %v, want [1]", got)
	}
	// Sentinels in text become their ids; the pieces between are encoded
	// on their own; malformed markers are ordinary text.
	got := t5.Encode("it <extra_id_0> a<extra_id_99>")
	want := []int32{32, 2099, 5, 2000, EOSID}
	if !slices.Equal(got, want) {
		t.Fatalf("Encode with sentinels = %v, want %v", got, want)
	}
	for _, s := range []string{"<extra_id_100>", "<extra_id_05>", "<extra_id_>", "<extra_id_7"} {
		if got := t5.Encode(s); slices.Contains(got, t5.SentinelID(7)) || slices.Contains(got, t5.SentinelID(5)) || len(got) < 3 {
			t.Errorf("Encode(%q) = %v, should not hold a sentinel", s, got)
		}
	}
	text, err := t5.Decode([]int32{PadID, 32, 2099, 5, 2000, EOSID, PadID})
	if err != nil || text != "it<extra_id_0> a<extra_id_99>" {
		t.Fatalf("Decode = %q, %v", text, err)
	}
	if _, err := t5.Decode([]int32{2100}); !errors.Is(err, ErrID) {
		t.Fatalf("Decode(2100) error = %v, want ErrID", err)
	}
	if _, err := t5.Model.Decode([]int32{2000}); !errors.Is(err, ErrID) {
		t.Fatalf("Model.Decode(2000) error = %v, want ErrID", err)
	}
	if _, err := t5.Decode([]int32{-1}); !errors.Is(err, ErrID) {
		t.Fatalf("Decode(-1) error = %v, want ErrID", err)
	}
}

func TestT5EncodeBatch(t *testing.T) {
	t5 := loadT5(t)
	texts := []string{"it 's a charming and often affecting journey . ", "it 's a", ""}
	ids, mask, seq, err := t5.EncodeBatch(texts, 0)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 12 || len(ids) != 3*seq || len(mask) != 3*seq {
		t.Fatalf("seq = %d, len(ids) = %d, len(mask) = %d", seq, len(ids), len(mask))
	}
	wantRow0 := []int32{32, 25, 3, 5, 1042, 8, 518, 966, 13, 1563, 22, EOSID}
	wantRow1 := []int32{32, 25, 3, 5, EOSID, 0, 0, 0, 0, 0, 0, 0}
	wantRow2 := []int32{EOSID, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for i, w := range [][]int32{wantRow0, wantRow1, wantRow2} {
		if !slices.Equal(ids[i*seq:(i+1)*seq], w) {
			t.Errorf("row %d = %v, want %v", i, ids[i*seq:(i+1)*seq], w)
		}
	}
	wantMask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !slices.Equal(mask, wantMask) {
		t.Errorf("mask = %v, want %v", mask, wantMask)
	}

	ids, mask, seq, err = t5.EncodeBatch(texts, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{32, 25, 3, EOSID, 32, 25, 3, EOSID, EOSID, 0, 0, 0}
	wantMask = []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}
	if seq != 4 || !slices.Equal(ids, want) || !slices.Equal(mask, wantMask) {
		t.Errorf("truncated: seq %d ids %v mask %v, want 4 %v %v", seq, ids, mask, want, wantMask)
	}
	ids, _, seq, err = t5.EncodeBatch(texts[:1], 1)
	if err != nil || seq != 1 || !slices.Equal(ids, []int32{EOSID}) {
		t.Errorf("maxLen 1: %v %d %v", ids, seq, err)
	}
	if _, _, _, err := t5.EncodeBatch(texts, -1); !errors.Is(err, ErrArg) {
		t.Errorf("maxLen -1 error = %v, want ErrArg", err)
	}
	ids, mask, seq, err = t5.EncodeBatch(nil, 8)
	if err != nil || seq != 0 || len(ids) != 0 || len(mask) != 0 {
		t.Errorf("empty batch: %v %v %d %v", ids, mask, seq, err)
	}
}

func TestVocabLookups(t *testing.T) {
	m := loadTestModel(t)
	if m.VocabSize() != 2000 || m.UnkID() != 2 {
		t.Fatalf("VocabSize %d UnkID %d", m.VocabSize(), m.UnkID())
	}
	if m.IDToPiece(3) != "s" || m.IDToPiece(-1) != "" || m.IDToPiece(2000) != "" {
		t.Errorf("IDToPiece: %q %q %q", m.IDToPiece(3), m.IDToPiece(-1), m.IDToPiece(2000))
	}
	if m.PieceToID("s") != 3 || m.PieceToID("no such piece") != 2 || m.PieceToID("</s>") != 1 {
		t.Errorf("PieceToID: %d %d %d", m.PieceToID("s"), m.PieceToID("no such piece"), m.PieceToID("</s>"))
	}
	if _, err := NewT5(syntheticModelNoT5(t)); !errors.Is(err, ErrArg) {
		t.Errorf("NewT5 of a non-T5 model: %v, want ErrArg", err)
	}
}
