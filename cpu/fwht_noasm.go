//go:build !amd64 || purego

package cpu

func fwht64AVX2(x []float32)           { fwht64Generic(x) }
func fwhtR8AVX2(x []float32, h, w int) { fwhtR8Generic(x, h, w) }
func fwhtR4AVX2(x []float32, h, w int) { fwhtR4Generic(x, h, w) }
func fwhtR2AVX2(x []float32, h, w int) { fwhtR2Generic(x, h, w) }
func fwhtR8ToAVX2(dst, src []float32, hd, hs, w int) {
	fwhtR8ToGeneric(dst, src, hd, hs, w)
}
func fwhtR4ToAVX2(dst, src []float32, hd, hs, w int) {
	fwhtR4ToGeneric(dst, src, hd, hs, w)
}
func fwhtR2ToAVX2(dst, src []float32, hd, hs, w int) {
	fwhtR2ToGeneric(dst, src, hd, hs, w)
}
func fwht64PfAVX2(x, pf []float32) { fwht64Generic(x) }
