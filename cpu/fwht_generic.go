package cpu

// Pure-Go twins of the butterfly kernels in fwht_amd64.s. Every butterfly
// computes (a, b) ← (a+b, a−b) rounded once, like the assembly, so the twins
// give bit-identical results.

// fwhtSmallGeneric applies all logN levels to each 2^logN-element vector of
// x (any logN; used for logN < 6, below the width of the 64-element kernel).
func fwhtSmallGeneric(x []float32, logN int) {
	n := 1 << logN
	for c := 0; c+n <= len(x); c += n {
		v := x[c : c+n : c+n]
		for h := 1; h < n; h <<= 1 {
			for i := 0; i < n; i += 2 * h {
				for j := i; j < i+h; j++ {
					a, b := v[j], v[j+h]
					v[j], v[j+h] = a+b, a-b
				}
			}
		}
	}
}

// fwht64Generic applies levels 0..5 to every 64-element chunk of x.
func fwht64Generic(x []float32) {
	fwhtSmallGeneric(x[:len(x)&^63], 6)
}

// fwhtR8Generic applies the levels of spans h, 2h, 4h to the rows x[j+k·h],
// k < 8, for j < w.
func fwhtR8Generic(x []float32, h, w int) {
	if w <= 0 {
		return
	}
	_ = x[7*h+w-1]
	for j := 0; j < w; j++ {
		x0, x1, x2, x3 := x[j], x[j+h], x[j+2*h], x[j+3*h]
		x4, x5, x6, x7 := x[j+4*h], x[j+5*h], x[j+6*h], x[j+7*h]
		x0, x1 = x0+x1, x0-x1
		x2, x3 = x2+x3, x2-x3
		x4, x5 = x4+x5, x4-x5
		x6, x7 = x6+x7, x6-x7
		x0, x2 = x0+x2, x0-x2
		x1, x3 = x1+x3, x1-x3
		x4, x6 = x4+x6, x4-x6
		x5, x7 = x5+x7, x5-x7
		x[j], x[j+4*h] = x0+x4, x0-x4
		x[j+h], x[j+5*h] = x1+x5, x1-x5
		x[j+2*h], x[j+6*h] = x2+x6, x2-x6
		x[j+3*h], x[j+7*h] = x3+x7, x3-x7
	}
}

// fwhtR4Generic applies the levels of spans h, 2h to the rows x[j+k·h],
// k < 4, for j < w.
func fwhtR4Generic(x []float32, h, w int) {
	if w <= 0 {
		return
	}
	_ = x[3*h+w-1]
	for j := 0; j < w; j++ {
		x0, x1, x2, x3 := x[j], x[j+h], x[j+2*h], x[j+3*h]
		x0, x1 = x0+x1, x0-x1
		x2, x3 = x2+x3, x2-x3
		x[j], x[j+2*h] = x0+x2, x0-x2
		x[j+h], x[j+3*h] = x1+x3, x1-x3
	}
}

// fwhtR2Generic applies the level of span h to the rows x[j], x[j+h] for
// j < w.
func fwhtR2Generic(x []float32, h, w int) {
	if w <= 0 {
		return
	}
	_ = x[h+w-1]
	for j := 0; j < w; j++ {
		a, b := x[j], x[j+h]
		x[j], x[j+h] = a+b, a-b
	}
}

// fwhtR8ToGeneric applies the levels of spans hs, 2hs, 4hs to the rows
// src[j+k·hs], k < 8, and writes them to dst[j+k·hd], for j < w (dst may be
// src with hd = hs).
func fwhtR8ToGeneric(dst, src []float32, hd, hs, w int) {
	if w <= 0 {
		return
	}
	_, _ = src[7*hs+w-1], dst[7*hd+w-1]
	for j := 0; j < w; j++ {
		x0, x1, x2, x3 := src[j], src[j+hs], src[j+2*hs], src[j+3*hs]
		x4, x5, x6, x7 := src[j+4*hs], src[j+5*hs], src[j+6*hs], src[j+7*hs]
		x0, x1 = x0+x1, x0-x1
		x2, x3 = x2+x3, x2-x3
		x4, x5 = x4+x5, x4-x5
		x6, x7 = x6+x7, x6-x7
		x0, x2 = x0+x2, x0-x2
		x1, x3 = x1+x3, x1-x3
		x4, x6 = x4+x6, x4-x6
		x5, x7 = x5+x7, x5-x7
		dst[j], dst[j+4*hd] = x0+x4, x0-x4
		dst[j+hd], dst[j+5*hd] = x1+x5, x1-x5
		dst[j+2*hd], dst[j+6*hd] = x2+x6, x2-x6
		dst[j+3*hd], dst[j+7*hd] = x3+x7, x3-x7
	}
}

// fwhtR4ToGeneric is the radix-4 fwhtR8ToGeneric (rows k < 4).
func fwhtR4ToGeneric(dst, src []float32, hd, hs, w int) {
	if w <= 0 {
		return
	}
	_, _ = src[3*hs+w-1], dst[3*hd+w-1]
	for j := 0; j < w; j++ {
		x0, x1, x2, x3 := src[j], src[j+hs], src[j+2*hs], src[j+3*hs]
		x0, x1 = x0+x1, x0-x1
		x2, x3 = x2+x3, x2-x3
		dst[j], dst[j+2*hd] = x0+x2, x0-x2
		dst[j+hd], dst[j+3*hd] = x1+x3, x1-x3
	}
}

// fwhtR2ToGeneric is the radix-2 fwhtR8ToGeneric (rows k < 2).
func fwhtR2ToGeneric(dst, src []float32, hd, hs, w int) {
	if w <= 0 {
		return
	}
	_, _ = src[hs+w-1], dst[hd+w-1]
	for j := 0; j < w; j++ {
		a, b := src[j], src[j+hs]
		dst[j], dst[j+hd] = a+b, a-b
	}
}
