//go:build !amd64 || purego

package fastfood

func ffScaleAVX2(dst, y []float32, c float32) { ffScaleGeneric(dst, y, c) }

func ffAddScaledAVX2(dst, h []float32, alpha, c float32) {
	ffAddScaledGeneric(dst, h, alpha, c)
}
