//go:build !purego

package fastfood

// ffScaleAVX2 sets dst[i] = c·y[i] for i < len(dst), a multiple of 8;
// len(y) ≥ len(dst).
//
//go:noescape
func ffScaleAVX2(dst, y []float32, c float32)

// ffAddScaledAVX2 sets dst[i] += alpha·(c·h[i]) for i < len(dst), a
// multiple of 8, each product rounded; len(h) ≥ len(dst).
//
//go:noescape
func ffAddScaledAVX2(dst, h []float32, alpha, c float32)
