package tokenizer

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// charsmap is SentencePiece's precompiled character map: a Darts-clone
// double-array trie over input byte strings whose values are offsets of
// NUL-terminated replacement strings in normalized.
type charsmap struct {
	units      []uint32
	normalized string
}

// parseCharsmap decodes a precompiled_charsmap blob: a little-endian uint32
// byte size of the trie, the trie units, then the replacement strings.
// Errors wrap bad.
func parseCharsmap(b []byte, bad error) (*charsmap, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: precompiled_charsmap shorter than its header", bad)
	}
	size := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if size%4 != 0 || uint64(size) > uint64(len(b)) || size == 0 {
		return nil, fmt.Errorf("%w: precompiled_charsmap trie size %d of %d bytes", bad, size, len(b))
	}
	c := &charsmap{units: make([]uint32, size/4), normalized: string(b[size:])}
	for i := range c.units {
		c.units[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return c, nil
}

// Darts-clone unit accessors.
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & (1<<31 - 1) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// maxTrieResults is the number of prefix matches SentencePiece's normalizer
// considers (kMaxTrieResultsSize).
const maxTrieResults = 32

// longestPrefix returns the value and length of the longest key of the trie
// that is a prefix of s (among the first maxTrieResults matches), or length 0.
func (c *charsmap) longestPrefix(s string) (value uint32, length int) {
	units := c.units
	n := uint32(len(units))
	pos := dartsOffset(units[0])
	found := 0
	for i := 0; i < len(s); i++ {
		pos ^= uint32(s[i])
		if pos >= n {
			return value, length
		}
		u := units[pos]
		if dartsLabel(u) != uint32(s[i]) {
			return value, length
		}
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			if pos >= n {
				return value, length
			}
			if found < maxTrieResults {
				value, length = dartsValue(units[pos]), i+1
				found++
			}
		}
	}
	return value, length
}

// replacement returns the NUL-terminated string at offset v of normalized.
func (c *charsmap) replacement(v uint32) string {
	if uint64(v) >= uint64(len(c.normalized)) {
		return ""
	}
	s := c.normalized[v:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// replacementChar is U+FFFD, emitted for each malformed UTF-8 byte.
const replacementChar = "\uFFFD"

// normalizePrefix normalizes the longest normalizable prefix of s, as
// SentencePiece's Normalizer::NormalizePrefix: it returns the replacement
// text and the number of input bytes consumed (at least 1 for non-empty s).
func (m *Model) normalizePrefix(s string) (string, int) {
	if m.userTrie != nil {
		// User-defined symbols pass through unnormalized.
		if l := m.userTrie.longest(s); l > 0 {
			return s[:l], l
		}
	}
	if m.cmap != nil {
		if v, l := m.cmap.longestPrefix(s); l > 0 {
			return m.cmap.replacement(v), l
		}
	}
	r, l := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && l <= 1 {
		return replacementChar, 1
	}
	return s[:l], l
}

// spaceSymbol is the meta symbol that stands for a space (U+2581).
const spaceSymbol = "\u2581"

// Normalize applies the model's normalizer to text (character map,
// whitespace handling and ▁ escaping) and returns the string that the
// segmentation runs on.
func (m *Model) Normalize(text string) string {
	return string(m.appendNormalized(nil, text))
}

// appendNormalized appends the normalized form of text to dst.
func (m *Model) appendNormalized(dst []byte, text string) []byte {
	input := text
	if m.removeExtraWS {
		for len(input) > 0 {
			r, l := m.normalizePrefix(input)
			if r != " " {
				break
			}
			input = input[l:]
		}
	}
	if len(input) == 0 {
		return dst
	}
	start := len(dst)
	space := " "
	if m.escapeWS {
		space = spaceSymbol
	}
	if !m.treatWSAsSuffix && m.addDummyPrefix {
		dst = append(dst, space...)
	}
	prevSpace := m.removeExtraWS
	for len(input) > 0 {
		r, l := m.normalizePrefix(input)
		if prevSpace {
			for len(r) > 0 && r[0] == ' ' {
				r = r[1:]
			}
		}
		if len(r) > 0 {
			for i := 0; i < len(r); i++ {
				if m.escapeWS && r[i] == ' ' {
					dst = append(dst, spaceSymbol...)
				} else {
					dst = append(dst, r[i])
				}
			}
			prevSpace = r[len(r)-1] == ' '
		}
		input = input[l:]
		if !m.removeExtraWS {
			prevSpace = false
		}
	}
	if m.removeExtraWS {
		for len(dst)-start >= len(space) && string(dst[len(dst)-len(space):]) == space {
			dst = dst[:len(dst)-len(space)]
		}
	}
	if m.treatWSAsSuffix && m.addDummyPrefix {
		dst = append(dst, space...)
	}
	return dst
}
