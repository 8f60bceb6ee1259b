package cpu

import "github.com/compacter-go/compacter/kernels"

// Cost model of the PHM algorithms (PHMAuto). Each path is charged the
// larger of its memory traffic at the streaming bandwidth and its main
// floating-point work at the rate of the kernel doing it (the two overlap),
// plus work that does not stream (the N×N mixing, building H) and a fixed
// cost per call. The constants were measured on one core of the
// development machine (AMD EPYC, AVX2/FMA) with BenchmarkKronKernels and
// BenchmarkPHM (768↔24 and 3072→768, N = 2..12, 1024 and 8192 rows,
// rank 0 and 1; the model is within a factor of about 2 of those timings
// and picks the faster path except near ties and for rank 0 at 24→768
// with N = 2..8, where the fused path measured 10–25% faster and
// materialising is chosen). The estimate is for one forward plus one
// backward pass (training), so the forward and the backward of a layer use
// the same algorithm. Only the ratio of the two
// estimates matters; threads scale both paths alike and are ignored.
const (
	// kronCostSgemm is the packed SGEMM's rate on large products (flop/s).
	kronCostSgemm = 60e9
	// kronCostKron is the rate of the skinny kernels kronDot, kronAxpy and
	// kronAccT on operands in cache (flop/s).
	kronCostKron = 40e9
	// kronCostMix is the rate of the N×N mixing (kronMix, kronMixGrad)
	// (flop/s).
	kronCostMix = 15e9
	// kronCostBW is the streaming memory bandwidth of one core (bytes/s).
	kronCostBW = 20e9
	// kronCostCall is the fixed cost of one call (dispatch, goroutines) (s).
	kronCostCall = 5e-6
	// kronCostWide is the row width (floats) from which the skinny kernels
	// reach kronCostKron; narrower rows (p or q of 2 or 3 at N = 8..12)
	// fill a fraction of a vector and pay the loop overhead per row.
	kronCostWide = 16
)

// kronWidthRate is kronCostKron derated for skinny-kernel rows of width d:
// at N = 12 and width 24 the sub-rows are 2 floats, a quarter of a vector.
func kronWidthRate(d int) float64 {
	return kronCostKron * float64(min(d, kronCostWide)) / kronCostWide
}

// kronSgemmRate is kronCostSgemm derated for thin products: a side d
// shorter than the micro-kernel's tile wastes part of it.
func kronSgemmRate(m, n, k int) float64 {
	d := float64(min(m, n, k))
	return kronCostSgemm * d / (d + 12)
}

// PHMCost estimates the seconds of one forward and one backward pass of a
// PHM layer (rank 0) or LPHM layer (rank > 0) over rows rows with the given
// algorithm (PHMFused or PHMMaterialize) on one core.
func PHMCost(algo kernels.PHMAlgo, rows, in, out, n, rank int) float64 {
	R, I, O, N, r := float64(rows), float64(in), float64(out), float64(n), float64(rank)
	p, q := I/N, O/N
	// Both paths read X in the forward and again in the backward, write dX
	// (with its read for ownership), write Y and read dY twice.
	stream := 4 * R * (4*I + 3*O)
	switch algo {
	case kernels.PHMMaterialize:
		// KronSum in the forward and again in the backward, KronSumBackward
		// (dA and dW, each a pass over H), with H or dH written or read
		// about six times; then three dense products.
		kron := 4 * 2 * N * I * O
		if rank > 0 {
			kron += 3 * 2 * N * p * q * r
		}
		h := 6 * 4 * I * O / kronCostBW
		gemm := 3 * 2 * R * I * O / kronSgemmRate(rows, in, out)
		return max(stream/kronCostBW, gemm) + kron/kronCostKron + h + 6*kronCostCall
	default:
		if rank > 0 {
			// In-side: P = X·S (forward, again in the backward), dS, dX;
			// out-side: Y = Q·T, dQ = dY·Tᵀ, dT; the mixing forward (twice),
			// backward and dA.
			// Rows of the in-side are p wide, of the out-side q wide.
			main := 2*R*N*r*4*I/kronWidthRate(in/n) + 2*R*N*r*3*O/kronWidthRate(out/n)
			mix := 4 * 2 * R * N * N * N * r / kronCostMix
			return max(stream/kronCostBW, main) + mix + 4*kronCostCall
		}
		// The product by W (forward, again in the backward, dW, dX or dZ)
		// plus the N×N mixing on the side choosePHMMix picks.
		gemm, mix := phmFusedCost(choosePHMMix(in, out, n), in, out, n)
		gemm, mix = R*gemm, R*mix
		return max(stream/kronCostBW, gemm) + mix + 4*kronCostCall
	}
}

// ChoosePHM is the algorithm PHMAuto runs for a layer of the given shape:
// the cheaper of PHMFused and PHMMaterialize under PHMCost. Plain PHM
// (rank 0) does at least the dense layer's FLOPs fused (plus the N×N
// mixing), so it materialises unless the batch is small next to the cost
// of building H; LPHM at adapter shapes does a small fraction of the dense
// FLOPs fused, except at N = 12 on the 768→24 side, whose 2-wide out-side
// rows make materialising cheaper.
func ChoosePHM(rows, in, out, n, rank int) kernels.PHMAlgo {
	if PHMCost(kernels.PHMFused, rows, in, out, n, rank) <= PHMCost(kernels.PHMMaterialize, rows, in, out, n, rank) {
		return kernels.PHMFused
	}
	return kernels.PHMMaterialize
}
