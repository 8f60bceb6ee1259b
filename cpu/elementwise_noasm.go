//go:build !amd64 || purego

package cpu

func addAVX2(dst, a, b []float32)                     { addGeneric(dst, a, b) }
func subAVX2(dst, a, b []float32)                     { subGeneric(dst, a, b) }
func mulAVX2(dst, a, b []float32)                     { mulGeneric(dst, a, b) }
func scaleToAVX2(dst, x []float32, alpha float32)     { scaleToGeneric(dst, x, alpha) }
func axpbyAVX2(dst, x []float32, alpha, beta float32) { axpbyGeneric(dst, x, alpha, beta) }
func scaleMulAVX2(dst, x, w []float32, s float32)     { scaleMulGeneric(dst, x, w, s) }
func sumSquaresAVX2(x []float32) float32              { return sumSquaresGeneric(x) }
func dotAVX2(x, y []float32) float32                  { return dotGeneric(x, y) }
func mulAddAVX2(dst, a, b []float32, s float32)       { mulAddGeneric(dst, a, b, s) }
func maxAVX2(x []float32) float32                     { return maxGeneric(x) }
