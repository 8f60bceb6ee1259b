//go:build !amd64 || purego

package fastfood

func ffGatherAVX2(dst, u []float32, tab *[1 << 16]float32, p *idxParams, i0 uint32) {
	ffGatherGeneric(dst, u, tab, p, i0)
}

func ffScatterAVX2(acc, buf []float32, tab *[1 << 16]float32, p *idxParams, i0 uint32) {
	ffScatterGeneric(acc, buf, tab, p, i0)
}
