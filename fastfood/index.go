package fastfood

import "github.com/compacter-go/compacter/cpu"

// simd reports whether the AVX2 kernels run (as for the cpu backend's
// kernels: never with the purego tag).
var simd = cpu.SIMD()

// gatherBlock sets dst[j] = u[Π(i0+j) mod m]·G(i0+j) for j < len(dst);
// len(u) must be m.
func gatherBlock(simd bool, dst, u []float32, p *idxParams, i0 uint32) {
	_ = u[p.mm]
	k := 0
	if simd {
		k = len(dst) &^ 7
		if k > 0 {
			ffGatherAVX2(dst[:k], u, gaussTable(), p, i0)
		}
	}
	ffGatherGeneric(dst[k:], u, gaussTable(), p, i0+uint32(k))
}

// scatterBlock adds buf[j]·G(i0+j) to acc[Π(i0+j) mod m] for j <
// len(buf), in order of j; len(acc) must be m.
func scatterBlock(simd bool, acc, buf []float32, p *idxParams, i0 uint32) {
	_ = acc[p.mm]
	k := 0
	if simd {
		k = len(buf) &^ 7
		if k > 0 {
			ffScatterAVX2(acc, buf[:k], gaussTable(), p, i0)
		}
	}
	ffScatterGeneric(acc, buf[k:], gaussTable(), p, i0+uint32(k))
}
