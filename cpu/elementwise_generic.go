package cpu

import "math"

// Pure-Go twins of the vector kernels in elementwise_amd64.s. Each processes
// len(dst) (or len(x)) elements; the other slices must be at least as long.
// The elementwise ones give bit-identical results to the assembly, except
// axpby (the assembly fuses its multiply-add); the reductions accumulate in
// float64 (the assembly in 32 float32 partial sums).

// addGeneric computes dst[i] = a[i] + b[i].
func addGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// subGeneric computes dst[i] = a[i] − b[i].
func subGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

// mulGeneric computes dst[i] = a[i]·b[i].
func mulGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// scaleToGeneric computes dst[i] = alpha·x[i].
func scaleToGeneric(dst, x []float32, alpha float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = alpha * x[i]
	}
}

// axpbyGeneric computes dst[i] = alpha·x[i] + beta·dst[i].
func axpbyGeneric(dst, x []float32, alpha, beta float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = alpha*x[i] + beta*dst[i]
	}
}

// scaleMulGeneric computes dst[i] = w[i]·(x[i]·s).
func scaleMulGeneric(dst, x, w []float32, s float32) {
	x, w = x[:len(dst)], w[:len(dst)]
	for i := range dst {
		dst[i] = w[i] * (x[i] * s)
	}
}

// sumSquaresGeneric returns Σ x[i]².
func sumSquaresGeneric(x []float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return float32(s)
}

// dotGeneric returns Σ x[i]·y[i] over len(x).
func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s float64
	for i, v := range x {
		s += float64(v) * float64(y[i])
	}
	return float32(s)
}

// mulAddGeneric computes dst[i] += (a[i]·s)·b[i].
func mulAddGeneric(dst, a, b []float32, s float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] += a[i] * s * b[i]
	}
}

// maxGeneric returns the maximum of x (−∞ for an empty x), ignoring NaNs.
func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}
