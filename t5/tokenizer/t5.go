package tokenizer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrArg reports an invalid argument to a T5 batch call.
var ErrArg = errors.New("tokenizer: invalid argument")

// T5 token ids.
const (
	PadID = 0 // <pad>, also the decoder start token
	EOSID = 1 // </s>, appended to every encoded text
	UnkID = 2 // <unk>

	// NumSentinels is the number of <extra_id_N> sentinel tokens.
	NumSentinels = 100
)

// T5 wraps a SentencePiece Model with the T5 conventions: </s> appended,
// and the sentinels <extra_id_0>…<extra_id_99> placed above the
// SentencePiece vocabulary in reverse order, so <extra_id_0> is the last id
// (32099 for t5-base's 32000 pieces) and <extra_id_99> the first (32000).
type T5 struct {
	*Model
}

// NewT5 checks that m has T5's special ids (<pad> 0, </s> 1, <unk> 2) and
// wraps it.
func NewT5(m *Model) (*T5, error) {
	if m.VocabSize() < 3 || m.IDToPiece(PadID) != "<pad>" || m.IDToPiece(EOSID) != "</s>" || m.UnkID() != UnkID {
		return nil, fmt.Errorf("%w: model lacks T5's <pad>=0, </s>=1, <unk>=2", ErrArg)
	}
	return &T5{Model: m}, nil
}

// VocabSize returns the SentencePiece vocabulary plus the sentinels.
func (t *T5) VocabSize() int { return t.Model.VocabSize() + NumSentinels }

// SentinelID returns the id of <extra_id_n>, or -1 if n is out of range.
func (t *T5) SentinelID(n int) int32 {
	if n < 0 || n >= NumSentinels {
		return -1
	}
	return int32(t.Model.VocabSize() + NumSentinels - 1 - n)
}

// sentinelText returns "<extra_id_N>" for a sentinel id.
func (t *T5) sentinelText(id int32) (string, bool) {
	n := t.Model.VocabSize() + NumSentinels - 1 - int(id)
	if id < int32(t.Model.VocabSize()) || n < 0 {
		return "", false
	}
	return "<extra_id_" + strconv.Itoa(n) + ">", true
}

// parseSentinel reports the sentinel number of an "<extra_id_N>" prefix of s
// and its length.
func parseSentinel(s string) (n, length int, ok bool) {
	const pre = "<extra_id_"
	if !strings.HasPrefix(s, pre) {
		return 0, 0, false
	}
	i := len(pre)
	for i < len(s) && i < len(pre)+2 && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == len(pre) || i >= len(s) || s[i] != '>' || (i-len(pre) == 2 && s[len(pre)] == '0') {
		return 0, 0, false
	}
	return n, i + 1, true
}

// AppendEncode appends the ids of text followed by </s> to dst. Sentinel
// markers "<extra_id_N>" (N in 0…99) in text become their sentinel ids;
// the text between them is encoded separately.
func (t *T5) AppendEncode(dst []int32, text string) []int32 {
	for {
		i := strings.Index(text, "<extra_id_")
		for i >= 0 {
			if _, _, ok := parseSentinel(text[i:]); ok {
				break
			}
			j := strings.Index(text[i+1:], "<extra_id_")
			if j < 0 {
				i = -1
			} else {
				i += 1 + j
			}
		}
		if i < 0 {
			break
		}
		n, l, _ := parseSentinel(text[i:])
		dst = t.Model.AppendEncode(dst, text[:i])
		dst = append(dst, t.SentinelID(n))
		text = text[i+l:]
	}
	dst = t.Model.AppendEncode(dst, text)
	return append(dst, EOSID)
}

// Encode returns the ids of text followed by </s> (see AppendEncode).
func (t *T5) Encode(text string) []int32 {
	return t.AppendEncode(nil, text)
}

// Decode turns ids back into text; <pad> and </s> vanish and sentinel ids
// become "<extra_id_N>". Ids outside the vocabulary are an error wrapping
// ErrID.
func (t *T5) Decode(ids []int32) (string, error) {
	var sb strings.Builder
	if err := t.appendDecoded(&sb, ids, t.sentinelText); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// EncodeBatch encodes texts into a row-major [len(texts), seqLen] id matrix
// padded with PadID and its attention mask (1 for tokens, 0 for padding).
// seqLen is the longest encoded text; if maxLen > 0 it is at most maxLen,
// and longer texts are truncated to maxLen tokens whose last one is </s>.
func (t *T5) EncodeBatch(texts []string, maxLen int) (ids, mask []int32, seqLen int, err error) {
	if maxLen < 0 {
		return nil, nil, 0, fmt.Errorf("%w: maxLen %d < 0", ErrArg, maxLen)
	}
	rows := make([][]int32, len(texts))
	for i, s := range texts {
		r := t.Encode(s)
		if maxLen > 0 && len(r) > maxLen {
			r = append(r[:maxLen-1], EOSID)
		}
		rows[i] = r
		seqLen = max(seqLen, len(r))
	}
	ids = make([]int32, len(texts)*seqLen)
	mask = make([]int32, len(texts)*seqLen)
	for i, r := range rows {
		copy(ids[i*seqLen:], r)
		for j := range r {
			mask[i*seqLen+j] = 1
		}
	}
	return ids, mask, seqLen, nil
}
