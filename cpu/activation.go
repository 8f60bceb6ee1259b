package cpu

import "github.com/compacter-go/compacter/kernels"

// Activations: ReLU, gelu_new, SiLU and sigmoid have AVX2 kernels (the last
// three on a vectorised e^x); tanh runs in float32 Go, the exact GELU in
// float64 Go (erf).

const (
	sqrt2OverPi   = 0.7978845608028654 // √(2/π)
	geluNewCoef   = 0.044715
	invSqrt2      = 0.7071067811865476 // 1/√2
	invSqrt2Pi    = 0.3989422804014327 // 1/√(2π)
	actGrainElems = 1 << 13            // parallel grain of the transcendental ones
)

// actForward computes dst[i] = f(x[i]) for i < len(dst); dst may alias x.
func actForward(simd bool, f kernels.Activation, dst, x []float32) {
	switch {
	case f == kernels.ReLU && simd:
		reluAVX2(dst, x)
	case f == kernels.ReLU:
		reluGeneric(dst, x)
	case f == kernels.GeLUNew && simd:
		geluNewAVX2(dst, x)
	case f == kernels.GeLUNew:
		geluNewGeneric(dst, x)
	case f == kernels.SiLU && simd:
		siluAVX2(dst, x)
	case f == kernels.SiLU:
		siluGeneric(dst, x)
	case f == kernels.Sigmoid && simd:
		sigmoidAVX2(dst, x)
	case f == kernels.Sigmoid:
		sigmoidGeneric(dst, x)
	case f == kernels.Tanh:
		tanhGeneric(dst, x)
	case f == kernels.GeLU:
		geluGeneric(dst, x)
	}
}

// actBackward computes dx[i] = dy[i]·f'(x[i]) for i < len(dx); dx may alias
// dy.
func actBackward(simd bool, f kernels.Activation, dx, dy, x []float32) {
	switch {
	case f == kernels.ReLU && simd:
		reluBackwardAVX2(dx, dy, x)
	case f == kernels.ReLU:
		reluBackwardGeneric(dx, dy, x)
	case f == kernels.GeLUNew && simd:
		geluNewBackwardAVX2(dx, dy, x)
	case f == kernels.GeLUNew:
		geluNewBackwardGeneric(dx, dy, x)
	case f == kernels.SiLU && simd:
		siluBackwardAVX2(dx, dy, x)
	case f == kernels.SiLU:
		siluBackwardGeneric(dx, dy, x)
	case f == kernels.Sigmoid && simd:
		sigmoidBackwardAVX2(dx, dy, x)
	case f == kernels.Sigmoid:
		sigmoidBackwardGeneric(dx, dy, x)
	case f == kernels.Tanh:
		tanhBackwardGeneric(dx, dy, x)
	case f == kernels.GeLU:
		geluBackwardGeneric(dx, dy, x)
	}
}
