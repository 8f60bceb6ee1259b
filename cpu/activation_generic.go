package cpu

import "math"

// Pure-Go twins of the activation kernels in activation_amd64.s, in float32
// with expClamped. The assembly fuses some multiply-adds, so the two agree
// to a few ulp (bit for bit for ReLU). With s = σ(z) = 1/(1+e^−z) and
// 1−s = e^−z·s:
//
//	gelu_new(x) = x·σ(2u), u = √(2/π)(x + 0.044715x³)   (= 0.5x(1+tanh u))
//	gelu_new'(x) = s + x·s(1−s)·2u'
//	silu(x) = x·σ(x), silu'(x) = s + x·s(1−s)
//	σ'(x) = s(1−s)

const (
	geluA  = -2 * sqrt2OverPi               // −2u = x·(geluA + geluB·x²)
	geluB  = -2 * sqrt2OverPi * geluNewCoef //
	geluD0 = 2 * sqrt2OverPi                // 2u' = geluD0 + geluD1·x²
	geluD1 = 6 * sqrt2OverPi * geluNewCoef  //
)

// reluGeneric computes dst[i] = max(0, x[i]) as the assembly's MAXPS(0, x)
// does: x itself when x is NaN or −0.
func reluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		dst[i] = v
	}
}

// reluBackwardGeneric computes dx[i] = dy[i] where x[i] > 0 (or NaN), else
// 0: PyTorch's threshold_backward, whose derivative at 0 is 0.
func reluBackwardGeneric(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		if v <= 0 {
			dx[i] = 0
		} else {
			dx[i] = dy[i]
		}
	}
}

// geluNewGeneric computes dst[i] = gelu_new(x[i]).
func geluNewGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		e := expClamped(v * (geluA + geluB*(v*v)))
		dst[i] = v / (1 + e)
	}
}

// geluNewBackwardGeneric computes dx[i] = dy[i]·gelu_new'(x[i]).
func geluNewBackwardGeneric(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		e := expClamped(v * (geluA + geluB*(v*v)))
		s := 1 / (1 + e)
		w := e * s * s
		dx[i] = dy[i] * ((geluD0+geluD1*(v*v))*(w*v) + s)
	}
}

// siluGeneric computes dst[i] = x[i]·σ(x[i]).
func siluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = v / (1 + expClamped(-v))
	}
}

// siluBackwardGeneric computes dx[i] = dy[i]·silu'(x[i]).
func siluBackwardGeneric(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		e := expClamped(-v)
		s := 1 / (1 + e)
		dx[i] = dy[i] * (v*(e*s*s) + s)
	}
}

// sigmoidGeneric computes dst[i] = σ(x[i]).
func sigmoidGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = 1 / (1 + expClamped(-v))
	}
}

// sigmoidBackwardGeneric computes dx[i] = dy[i]·σ(x[i])(1−σ(x[i])).
func sigmoidBackwardGeneric(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		e := expClamped(-v)
		s := 1 / (1 + e)
		dx[i] = dy[i] * (e * s * s)
	}
}

// tanh32 is tanh in float32 (Cephes tanhf): an odd polynomial below 0.625,
// 1 − 2/(e^(2|x|)+1) above; within 2 ulp.
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.625 {
		z := x * x
		return ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
	}
	t := 1 - 2/(expClamped(2*a)+1)
	if x < 0 {
		t = -t
	}
	return t
}

// tanhGeneric computes dst[i] = tanh(x[i]).
func tanhGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = tanh32(v)
	}
}

// tanhBackwardGeneric computes dx[i] = dy[i]·(1 − tanh²(x[i])), as
// q·(2−q) with q = 1−|tanh x| = 2/(e^(2|x|)+1) above 0.625, where 1 − t²
// would cancel.
func tanhBackwardGeneric(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		a := v
		if a < 0 {
			a = -a
		}
		var d float32
		if a < 0.625 {
			t := tanh32(v)
			d = 1 - t*t
		} else {
			q := 2 / (expClamped(2*a) + 1)
			d = q * (2 - q)
		}
		dx[i] = dy[i] * d
	}
}

// geluGeneric computes the exact GELU 0.5·x·(1 + erf(x/√2)) in float64.
func geluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		z := float64(v)
		dst[i] = float32(0.5 * z * (1 + math.Erf(z*invSqrt2)))
	}
}

// geluBackwardGeneric computes dx[i] = dy[i]·(Φ(x) + x·φ(x)) in float64.
func geluBackwardGeneric(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		z := float64(v)
		d := 0.5*(1+math.Erf(z*invSqrt2)) + z*invSqrt2Pi*math.Exp(-0.5*z*z)
		dx[i] = float32(float64(dy[i]) * d)
	}
}
