package tokenizer

import (
	"encoding/binary"
	"slices"
	"testing"
)

// buildCharsmap builds a precompiled_charsmap blob (the format
// parseCharsmap reads: a uint32 trie byte size, a Darts-clone double
// array, the NUL-terminated replacements) mapping each key to its value.
// It places nodes greedily; it is for small hand-made test maps only.
func buildCharsmap(m map[string]string) []byte {
	type node struct {
		kids  map[byte]*node
		value int // offset of the replacement, -1 for none
	}
	newNode := func() *node { return &node{kids: map[byte]*node{}, value: -1} }
	root := newNode()
	var normalized []byte
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		n := root
		for i := 0; i < len(k); i++ {
			c, ok := n.kids[k[i]]
			if !ok {
				c = newNode()
				n.kids[k[i]] = c
			}
			n = c
		}
		n.value = len(normalized)
		normalized = append(append(normalized, m[k]...), 0)
	}
	units := []uint32{0}
	used := []bool{true}
	grow := func(p uint32) {
		for uint32(len(units)) <= p {
			units = append(units, 0)
			used = append(used, false)
		}
	}
	free := func(p uint32) bool { return p >= uint32(len(used)) || !used[p] }
	type item struct {
		n   *node
		pos uint32
	}
	queue := []item{{root, 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		labels := make([]byte, 0, len(it.n.kids))
		for c := range it.n.kids {
			labels = append(labels, c)
		}
		slices.Sort(labels)
		base := uint32(1)
		for ; ; base++ {
			ok := it.n.value < 0 || free(base)
			for _, c := range labels {
				ok = ok && free(base^uint32(c)) && base^uint32(c) != 0
			}
			if ok {
				break
			}
		}
		// The node's own unit holds the offset to its base (and its label,
		// set by its parent).
		units[it.pos] |= (it.pos ^ base) << 10
		if it.n.value >= 0 {
			grow(base)
			used[base] = true
			units[base] = 1<<31 | uint32(it.n.value)
			units[it.pos] |= 1 << 8
		}
		for _, c := range labels {
			p := base ^ uint32(c)
			grow(p)
			used[p] = true
			units[p] = uint32(c)
			queue = append(queue, item{it.n.kids[c], p})
		}
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(4*len(units)))
	for _, u := range units {
		out = binary.LittleEndian.AppendUint32(out, u)
	}
	return append(out, normalized...)
}

// tinyCharsmap is the map in testdata/tokenizer/tiny-tokenizer.json.
var tinyCharsmap = map[string]string{
	"ａ":      "a",
	"ｂ":      "b",
	"\u3000": " ",
	"ﬁ":      "fi",
	"\t":     " ",
	"…":      "...",
}

func TestBuildCharsmap(t *testing.T) {
	c, err := parseCharsmap(buildCharsmap(tinyCharsmap), errProto)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tinyCharsmap {
		val, l := c.longestPrefix(k + "x")
		if l != len(k) || c.replacement(val) != v {
			t.Errorf("%q: got %q length %d, want %q length %d", k, c.replacement(val), l, v, len(k))
		}
	}
	for _, s := range []string{"a", "x", "\xef\xbd", "\xef\xbd\x83"} {
		if _, l := c.longestPrefix(s); l != 0 {
			t.Errorf("%q: matched %d bytes, want none", s, l)
		}
	}
}
