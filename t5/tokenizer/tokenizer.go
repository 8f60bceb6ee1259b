// Package tokenizer is a pure-Go SentencePiece unigram tokenizer that
// reproduces SentencePiece 0.1.97 exactly (normalization by the model's
// precompiled character map, whitespace handling, Viterbi segmentation,
// unknown handling and decoding), with the T5 conventions on top: </s>
// appended, pad 0 / eos 1 / unk 2, sentinel tokens <extra_id_N> above the
// SentencePiece vocabulary, and batch encoding with padding, truncation and
// attention masks.
//
// A Model loads from a SentencePiece spiece.model (Parse) or from the
// Hugging Face tokenizer.json of a T5 model (ParseJSON), which is read as
// the spiece.model it was converted from and tokenizes identically; Load
// takes either file or a model directory holding one.
//
// A Model is immutable after loading and safe for concurrent use.
package tokenizer

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrID reports a token id outside the vocabulary.
var ErrID = errors.New("tokenizer: token id out of range")

// unkPenalty is subtracted from the lowest piece score to score an unknown
// character (SentencePiece's kUnkPenalty).
const unkPenalty = 10

// Model is a loaded SentencePiece unigram model.
type Model struct {
	pieces  []protoPiece
	pieceID map[string]int32
	unkID   int32

	unkSurface      string
	addDummyPrefix  bool
	removeExtraWS   bool
	escapeWS        bool
	treatWSAsSuffix bool
	byteFallback    bool
	byteID          [256]int32
	cmap            *charsmap

	minScore, maxScore float32
	// trie over the normal, user-defined and unused pieces.
	trie pieceTrie
	// userTrie matches user-defined symbols, which bypass normalization.
	userTrie *pieceTrie

	scratch sync.Pool
}

// Load reads a tokenizer from path, which is one of:
//
//   - a serialized SentencePiece ModelProto (spiece.model);
//   - a Hugging Face tokenizer.json (any file whose name ends in ".json"),
//     read by ParseJSON;
//   - a model directory holding spiece.model or tokenizer.json. When it
//     holds both, spiece.model is used: it is the original the
//     tokenizer.json was converted from, and the only one of the two that
//     records piece types (unused, byte) and the unknown surface.
func Load(path string) (*Model, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return loadDir(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	parse := Parse
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		parse = ParseJSON
	}
	m, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Model file names looked for in a model directory, in order of preference.
const (
	SPMFile  = "spiece.model"
	JSONFile = "tokenizer.json"
)

// loadDir loads dir/spiece.model, or dir/tokenizer.json when there is no
// spiece.model.
func loadDir(dir string) (*Model, error) {
	for _, name := range []string{SPMFile, JSONFile} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return Load(p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	return nil, fmt.Errorf("tokenizer: directory %s holds neither %s nor %s", dir, SPMFile, JSONFile)
}

// LoadT5 loads path as Load does and wraps the model with NewT5.
func LoadT5(path string) (*T5, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	t, err := NewT5(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse builds a Model from a serialized SentencePiece ModelProto. Only
// unigram models are supported.
func Parse(b []byte) (*Model, error) {
	pm, err := parseModelProto(b)
	if err != nil {
		return nil, err
	}
	if pm.modelType != 1 {
		return nil, fmt.Errorf("%w: model_type %d is not UNIGRAM (1)", errProto, pm.modelType)
	}
	return newModel(pm, errProto)
}

// newModel builds a Model from the parts of a unigram model; errors wrap
// bad, which names the source format.
func newModel(pm *protoModel, bad error) (*Model, error) {
	var err error
	if len(pm.pieces) == 0 {
		return nil, fmt.Errorf("%w: no pieces", bad)
	}
	if len(pm.pieces) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: too many pieces", bad)
	}
	m := &Model{
		pieces:          pm.pieces,
		pieceID:         make(map[string]int32, len(pm.pieces)),
		unkID:           -1,
		unkSurface:      pm.unkSurface,
		addDummyPrefix:  pm.addDummyPrefix,
		removeExtraWS:   pm.removeExtraWS,
		escapeWS:        pm.escapeWS,
		treatWSAsSuffix: pm.treatWSAsSuffix,
		byteFallback:    pm.byteFallback,
		minScore:        math.MaxFloat32,
		maxScore:        0x1p-126, // FLT_MIN, SentencePiece's initial max_score_
	}
	for i := range m.byteID {
		m.byteID[i] = -1
	}
	m.cmap, err = parseCharsmap(pm.charsmap, bad)
	if err != nil {
		return nil, err
	}
	m.trie.init()
	total := 0
	for _, p := range pm.pieces {
		total += len(p.piece)
	}
	if total >= 1<<24 {
		return nil, fmt.Errorf("%w: pieces hold %d bytes, more than the trie's 2^24", bad, total)
	}
	for i, p := range pm.pieces {
		if p.piece == "" {
			return nil, fmt.Errorf("%w: piece %d is empty", bad, i)
		}
		if _, dup := m.pieceID[p.piece]; dup {
			return nil, fmt.Errorf("%w: piece %d %q is a duplicate", bad, i, p.piece)
		}
		m.pieceID[p.piece] = int32(i)
		switch p.typ {
		case typeNormal, typeUserDefined, typeUnused:
			m.trie.insert(p.piece, int32(i))
		case typeUnknown:
			if m.unkID >= 0 {
				return nil, fmt.Errorf("%w: more than one unknown piece", bad)
			}
			m.unkID = int32(i)
		case typeByte:
			var v byte
			if _, err := fmt.Sscanf(p.piece, "<0x%02X>", &v); err != nil || len(p.piece) != 6 {
				return nil, fmt.Errorf("%w: byte piece %d is %q", bad, i, p.piece)
			}
			m.byteID[v] = int32(i)
		}
		if p.typ == typeUserDefined {
			if m.userTrie == nil {
				m.userTrie = new(pieceTrie)
				m.userTrie.init()
			}
			m.userTrie.insert(p.piece, int32(i))
		}
		if p.typ == typeNormal {
			m.minScore = min(m.minScore, p.score)
			m.maxScore = max(m.maxScore, p.score)
		}
	}
	if m.unkID < 0 {
		return nil, fmt.Errorf("%w: no unknown piece", bad)
	}
	m.trie.compile()
	if m.userTrie != nil {
		m.userTrie.compile()
	}
	if m.byteFallback {
		for i, id := range m.byteID {
			if id < 0 {
				return nil, fmt.Errorf("%w: byte_fallback without piece <0x%02X>", bad, i)
			}
		}
	}
	return m, nil
}

// VocabSize returns the number of SentencePiece pieces.
func (m *Model) VocabSize() int { return len(m.pieces) }

// IDToPiece returns the piece of id, or "" when id is out of range.
func (m *Model) IDToPiece(id int) string {
	if id < 0 || id >= len(m.pieces) {
		return ""
	}
	return m.pieces[id].piece
}

// PieceToID returns the id of piece, or the unknown id when there is none.
func (m *Model) PieceToID(piece string) int {
	if id, ok := m.pieceID[piece]; ok {
		return int(id)
	}
	return int(m.unkID)
}

// UnkID returns the id of the unknown piece.
func (m *Model) UnkID() int { return int(m.unkID) }

// pieceTrie is a byte trie. While building, children are kept in one map
// keyed by node<<8|byte; compile turns that into per-node sorted edge lists
// (labels, targets in [edge[n], edge[n+1])) with a dense 256-entry table
// for nodes that have many children. ids[node] is the piece ending there
// (-1 for none).
type pieceTrie struct {
	build map[uint32]int32
	ids   []int32

	edge    []int32
	labels  []byte
	targets []int32
	dense   []int32 // per node: offset into table, or -1
	table   []int32 // dense child tables, 0 for no child
}

// denseChildren is the child count from which a node gets a dense table.
const denseChildren = 8

func (t *pieceTrie) init() {
	t.build = make(map[uint32]int32)
	t.ids = []int32{-1}
}

func (t *pieceTrie) insert(s string, id int32) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		k := uint32(node)<<8 | uint32(s[i])
		c, ok := t.build[k]
		if !ok {
			c = int32(len(t.ids))
			t.ids = append(t.ids, -1)
			t.build[k] = c
		}
		node = c
	}
	t.ids[node] = id
}

// compile builds the lookup tables from the insertion map.
func (t *pieceTrie) compile() {
	n := len(t.ids)
	keys := make([]uint32, 0, len(t.build))
	for k := range t.build {
		keys = append(keys, k)
	}
	slices.Sort(keys) // by node, then label
	t.edge = make([]int32, n+1)
	t.labels = make([]byte, len(keys))
	t.targets = make([]int32, len(keys))
	for i, k := range keys {
		t.edge[k>>8+1]++
		t.labels[i] = byte(k)
		t.targets[i] = t.build[k]
	}
	for i := 1; i <= n; i++ {
		t.edge[i] += t.edge[i-1]
	}
	t.dense = make([]int32, n)
	t.table = t.table[:0]
	for node := 0; node < n; node++ {
		t.dense[node] = -1
		if t.edge[node+1]-t.edge[node] >= denseChildren {
			t.dense[node] = int32(len(t.table))
			base := len(t.table)
			t.table = append(t.table, make([]int32, 256)...)
			for e := t.edge[node]; e < t.edge[node+1]; e++ {
				t.table[base+int(t.labels[e])] = t.targets[e]
			}
		}
	}
	t.build = nil
}

// child returns the child of node along byte c, or 0 (the root, never a
// child) when there is none.
func (t *pieceTrie) child(node int32, c byte) int32 {
	if d := t.dense[node]; d >= 0 {
		return t.table[int(d)+int(c)]
	}
	for e := t.edge[node]; e < t.edge[node+1]; e++ {
		if t.labels[e] == c {
			return t.targets[e]
		}
	}
	return 0
}

// longest returns the length of the longest key that prefixes s (0 if none).
func (t *pieceTrie) longest(s string) int {
	node, best := int32(0), 0
	for i := 0; i < len(s); i++ {
		node = t.child(node, s[i])
		if node == 0 {
			break
		}
		if t.ids[node] >= 0 {
			best = i + 1
		}
	}
	return best
}

// lattice node of the best path ending at a byte position.
type pathNode struct {
	id      int32
	startAt int32
	score   float32
	// next is the end of the following piece on the best path (set while
	// backtracking; -1 after the last piece).
	next int32
}

// oneCharLen is the UTF-8 sequence length by the top 4 bits of the lead
// byte (1 for continuation bytes), as SentencePiece's OneCharLen.
var oneCharLen = [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}

type encodeScratch struct {
	norm []byte
	path []pathNode
}

func (m *Model) getScratch() *encodeScratch {
	if s, ok := m.scratch.Get().(*encodeScratch); ok {
		return s
	}
	return new(encodeScratch)
}

// segment runs the Viterbi segmentation of the normalized string s and
// calls emit for every piece in order with its byte span and id; runs of
// unknown characters are merged into one unknown piece, as SentencePiece
// does.
func (m *Model) segment(sc *encodeScratch, s string, emit func(begin, end int, id int32)) {
	n := len(s)
	if n == 0 {
		return
	}
	if cap(sc.path) < n+1 {
		sc.path = make([]pathNode, n+1)
	}
	path := sc.path[:n+1]
	for i := range path {
		path[i] = pathNode{id: -1, startAt: -1}
	}
	unkScore := m.minScore - unkPenalty
	t := &m.trie
	for start := 0; start < n; {
		base := path[start].score
		// SentencePiece's OneCharLen: the length by the lead byte only.
		mblen := min(oneCharLen[s[start]>>4], n-start)
		single := false
		node := int32(0)
		for pos := start; pos < n; pos++ {
			node = t.child(node, s[pos])
			if node == 0 {
				break
			}
			id := t.ids[node]
			if id < 0 {
				continue
			}
			p := &m.pieces[id]
			if p.typ == typeUnused {
				continue
			}
			length := pos + 1 - start
			// As in SentencePiece, the piece score is a double (the
			// user-defined bonus makes the expression double), so the
			// candidate is compared in double precision and stored as a
			// float: this decides ties between equal float sums.
			score := float64(p.score)
			if p.typ == typeUserDefined {
				score = float64(length)*float64(m.maxScore) - 0.1
			}
			cand := score + float64(base)
			tn := &path[pos+1]
			if tn.startAt == -1 || cand > float64(tn.score) {
				*tn = pathNode{id: id, startAt: int32(start), score: float32(cand)}
			}
			if length == mblen {
				single = true
			}
		}
		if !single {
			tn := &path[start+mblen]
			cand := unkScore + base
			if tn.startAt == -1 || cand > tn.score {
				*tn = pathNode{id: m.unkID, startAt: int32(start), score: cand}
			}
		}
		start += mblen
	}
	// Backtrack, linking each piece to its successor, then walk forwards.
	prev := int32(-1)
	for end := n; end > 0; end = int(path[end].startAt) {
		path[end].next = prev
		prev = int32(end)
	}
	begin := 0
	unkBegin := -1
	for e := int(prev); e != -1; {
		id := path[e].id
		next := int(path[e].next)
		if id == m.unkID {
			if unkBegin < 0 {
				unkBegin = begin
			}
		} else {
			if unkBegin >= 0 {
				emit(unkBegin, begin, m.unkID)
				unkBegin = -1
			}
			emit(begin, e, id)
		}
		begin = e
		e = next
	}
	if unkBegin >= 0 {
		emit(unkBegin, n, m.unkID)
	}
}

// Encode tokenizes text into SentencePiece ids (no </s> appended).
func (m *Model) Encode(text string) []int32 {
	return m.AppendEncode(nil, text)
}

// AppendEncode appends the ids of text to dst and returns the extended
// slice; it allocates only when dst must grow.
func (m *Model) AppendEncode(dst []int32, text string) []int32 {
	sc := m.getScratch()
	sc.norm = m.appendNormalized(sc.norm[:0], text)
	s := unsafeString(sc.norm)
	m.segment(sc, s, func(b, e int, id int32) {
		if id == m.unkID && m.byteFallback {
			for i := b; i < e; i++ {
				dst = append(dst, m.byteID[s[i]])
			}
			return
		}
		dst = append(dst, id)
	})
	m.scratch.Put(sc)
	return dst
}

// EncodePieces tokenizes text into piece strings. An unknown span is
// returned as its normalized text (not "<unk>"), as SentencePiece does.
func (m *Model) EncodePieces(text string) []string {
	sc := m.getScratch()
	sc.norm = m.appendNormalized(sc.norm[:0], text)
	s := string(sc.norm)
	var out []string
	m.segment(sc, s, func(b, e int, id int32) {
		if id == m.unkID && m.byteFallback {
			for i := b; i < e; i++ {
				out = append(out, m.pieces[m.byteID[s[i]]].piece)
			}
			return
		}
		out = append(out, s[b:e])
	})
	m.scratch.Put(sc)
	return out
}

// Decode turns SentencePiece ids back into text: ▁ becomes a space, the
// dummy-prefix space of the first piece is dropped, control pieces vanish,
// the unknown piece becomes the model's unk surface (" ⁇ ") and byte pieces
// are joined into UTF-8 (invalid bytes become U+FFFD). Ids outside the
// vocabulary are an error wrapping ErrID.
func (m *Model) Decode(ids []int32) (string, error) {
	var sb strings.Builder
	if err := m.appendDecoded(&sb, ids, nil); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// appendDecoded decodes ids into sb; extra, if not nil, supplies the text of
// ids at or above the vocabulary size (returning false for unknown ids).
func (m *Model) appendDecoded(sb *strings.Builder, ids []int32, extra func(id int32) (string, bool)) error {
	bosWS := true
	var bytes []byte
	sb.Grow(4 * len(ids))
	flush := func() {
		for len(bytes) > 0 {
			r, l := utf8.DecodeRune(bytes)
			if r == utf8.RuneError && l <= 1 {
				sb.WriteString(replacementChar)
				l = 1
			} else {
				sb.Write(bytes[:l])
			}
			bytes = bytes[l:]
		}
		bytes = bytes[:0]
	}
	for i, id := range ids {
		if id < 0 || int(id) >= len(m.pieces) {
			if extra != nil {
				if s, ok := extra(id); ok {
					flush()
					sb.WriteString(s)
					bosWS = false
					continue
				}
			}
			return fmt.Errorf("%w: id %d at position %d (vocabulary %d)", ErrID, id, i, len(m.pieces))
		}
		p := &m.pieces[id]
		switch p.typ {
		case typeControl:
			continue
		case typeByte:
			bytes = append(bytes, hexByte(p.piece[3:5]))
			continue
		}
		flush()
		if p.typ == typeUnknown {
			sb.WriteString(m.unkSurface)
			bosWS = false
			continue
		}
		piece := p.piece
		if bosWS && m.addDummyPrefix && !m.treatWSAsSuffix {
			piece = strings.TrimPrefix(piece, spaceSymbol)
		}
		if m.treatWSAsSuffix && m.addDummyPrefix && i == len(ids)-1 {
			piece = strings.TrimSuffix(piece, spaceSymbol)
		}
		for {
			j := strings.Index(piece, spaceSymbol)
			if j < 0 {
				break
			}
			sb.WriteString(piece[:j])
			sb.WriteByte(' ')
			piece = piece[j+len(spaceSymbol):]
		}
		sb.WriteString(piece)
		bosWS = false
	}
	flush()
	return nil
}

// hexByte parses two upper-case hex digits (validated at load time).
func hexByte(h string) byte {
	var v byte
	for i := 0; i < 2; i++ {
		c := h[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		}
		v = v<<4 | c
	}
	return v
}
