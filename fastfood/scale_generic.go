package fastfood

// ffScaleGeneric is the pure-Go twin of ffScaleAVX2: dst[i] = c·y[i] for
// i < len(dst).
func ffScaleGeneric(dst, y []float32, c float32) {
	y = y[:len(dst)]
	for i, v := range y {
		dst[i] = c * v
	}
}

// ffAddScaledGeneric is the pure-Go twin of ffAddScaledAVX2: dst[i] +=
// alpha·(c·h[i]) for i < len(dst), each product rounded (no FMA).
func ffAddScaledGeneric(dst, h []float32, alpha, c float32) {
	h = h[:len(dst)]
	for i, v := range h {
		dst[i] += float32(alpha * float32(c*v))
	}
}
