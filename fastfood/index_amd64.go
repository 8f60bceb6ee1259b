//go:build !purego

package fastfood

// ffGatherAVX2 sets dst[j] = u[Π(i0+j) mod m]·G(i0+j) for j < len(dst), a
// multiple of 8; len(u) must exceed p.mm.
//
//go:noescape
func ffGatherAVX2(dst, u []float32, tab *[1 << 16]float32, p *idxParams, i0 uint32)

// ffScatterAVX2 adds buf[j]·G(i0+j) to acc[Π(i0+j) mod m] for j < len(buf),
// a multiple of 8, in order of j; len(acc) must exceed p.mm.
//
//go:noescape
func ffScatterAVX2(acc, buf []float32, tab *[1 << 16]float32, p *idxParams, i0 uint32)
