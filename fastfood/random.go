package fastfood

import (
	"math"
	"sync"

	"github.com/compacter-go/compacter/kernels"
)

// gaussTable holds the standard normal quantiles at the midpoints
// (j+½)/65536 of 65536 equiprobable cells: a 16-bit uniform j becomes the
// Gaussian draw gaussTable()[j].
var gaussTable = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for j := range t[:1<<15] {
		u := (float64(j) + 0.5) / (1 << 16)
		q := float32(math.Sqrt2 * math.Erfinv(2*u-1))
		t[j], t[len(t)-1-j] = q, -q
	}
	return &t
})

// stateKeys are the independent keys of the B, G and Π streams of one
// projection.
type stateKeys struct{ b, g, p uint64 }

func newKeys(seed uint64) stateKeys {
	k := kernels.Mix64(seed ^ 0x5f0a7d3c1b2e4f68)
	return stateKeys{b: kernels.Mix64(k + 1), g: kernels.Mix64(k + 2), p: kernels.Mix64(k + 3)}
}

// signWord returns the 64 sign bits of B for the indices 64w..64w+63 (bit
// set: B = −1).
func (k stateKeys) signWord(w int) uint64 { return kernels.Mix64(k.b + uint64(w)) }

// idxParams are the constants of the seeded Π and G of one projection, in
// the layout index_amd64.s reads (seven uint32 and padding).
//
// Π is a keyed permutation of [0, 2^bits): the affine map x = a0·i + k0
// (a0 odd), then xorshift right, multiplication by the odd a1 and xorshift
// right again, all modulo 2^bits, each step a bijection. G(i) is the
// quantile table at the top 16 bits of the MurmurHash3 finaliser's two
// rounds applied to i + kg. mm = m − 1 reduces Π(i) to the span of the
// non-zero input.
type idxParams struct {
	a0, k0, a1, mask, shift, kg, mm uint32
	_                               uint32
}

func newIdxParams(k stateKeys, bits, logM int) idxParams {
	r := func(i uint64) uint32 { return uint32(kernels.Mix64(k.p + i)) }
	return idxParams{a0: r(0) | 1, k0: r(1), a1: r(2) | 1, mask: uint32(1)<<uint(bits) - 1,
		shift: uint32(max(1, (bits+1)/2)), kg: uint32(k.g), mm: uint32(1)<<uint(logM) - 1}
}

// perm returns Π(i).
func (p *idxParams) perm(i uint32) uint32 {
	x := (i*p.a0 + p.k0) & p.mask
	x ^= x >> p.shift
	x = (x * p.a1) & p.mask
	return x ^ x>>p.shift
}

// gaussIndex returns the 16-bit uniform that selects G(i).
func (p *idxParams) gaussIndex(i uint32) uint32 {
	h := i + p.kg
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return h >> 16
}
