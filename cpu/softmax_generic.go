package cpu

// Float32 exponentials: the pure-Go twin of expShiftAVX2 (softmax_amd64.s)
// and the scalar e^x the activation twins use.

import "math"

// expNonPos returns e^x for x ≤ 0 in float32 arithmetic (Cephes expf:
// x = k·ln2 + r, |r| ≤ ln2/2, a degree-7 polynomial for e^r, times 2^k),
// within 2 ulp of the exact value; results below the smallest normal float32
// (x < −87.33) flush to 0. NaN gives NaN.
func expNonPos(x float32) float32 {
	if x != x {
		return x
	}
	if x < -87.33654 {
		return 0
	}
	k := float32(math.RoundToEven(float64(x * 1.44269504088896341)))
	r := x - k*0.693359375
	r -= k * -2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// expShiftGeneric sets y[i] = e^(y[i]−m) for a maximum m of y and returns
// Σ y[i] accumulated in float32.
func expShiftGeneric(y []float32, m float32) float32 {
	var s float32
	for i, v := range y {
		e := expNonPos(v - m)
		y[i] = e
		s += e
	}
	return s
}

// expClamped returns e^x for x clamped to [−87.33654, 88] (so that 2^k
// stays a normal float32), with the polynomial of expNonPos; NaN gives NaN.
// The activations use it where a saturated e^x is as good as the exact one
// (x/(1+e^−x) and friends).
func expClamped(x float32) float32 {
	x = min(max(x, -87.33654), 88)
	k := float32(math.RoundToEven(float64(x * 1.44269504088896341)))
	r := x - k*0.693359375
	r -= k * -2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	if x != x {
		return x
	}
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}
