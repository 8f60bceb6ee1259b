package cpu

// Dispatching vector kernels: simd selects the AVX2 assembly (only ever true
// when hasAVX2FMA), otherwise the pure-Go twin runs.

func vecAdd(simd bool, dst, a, b []float32) {
	if simd {
		addAVX2(dst, a, b)
	} else {
		addGeneric(dst, a, b)
	}
}

func vecSub(simd bool, dst, a, b []float32) {
	if simd {
		subAVX2(dst, a, b)
	} else {
		subGeneric(dst, a, b)
	}
}

func vecMul(simd bool, dst, a, b []float32) {
	if simd {
		mulAVX2(dst, a, b)
	} else {
		mulGeneric(dst, a, b)
	}
}

func vecScaleTo(simd bool, dst, x []float32, alpha float32) {
	if simd {
		scaleToAVX2(dst, x, alpha)
	} else {
		scaleToGeneric(dst, x, alpha)
	}
}

func vecAxpby(simd bool, dst, x []float32, alpha, beta float32) {
	if simd {
		axpbyAVX2(dst, x, alpha, beta)
	} else {
		axpbyGeneric(dst, x, alpha, beta)
	}
}

func vecScaleMul(simd bool, dst, x, w []float32, s float32) {
	if simd {
		scaleMulAVX2(dst, x, w, s)
	} else {
		scaleMulGeneric(dst, x, w, s)
	}
}

func vecSumSquares(simd bool, x []float32) float32 {
	if simd {
		return sumSquaresAVX2(x)
	}
	return sumSquaresGeneric(x)
}

func vecDot(simd bool, x, y []float32) float32 {
	if simd {
		return dotAVX2(x, y)
	}
	return dotGeneric(x, y)
}

func vecMulAdd(simd bool, dst, a, b []float32, s float32) {
	if simd {
		mulAddAVX2(dst, a, b, s)
	} else {
		mulAddGeneric(dst, a, b, s)
	}
}

func vecMax(simd bool, x []float32) float32 {
	if simd {
		return maxAVX2(x)
	}
	return maxGeneric(x)
}
