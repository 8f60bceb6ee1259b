//go:build linux && cgo && !nocuda

package cuda

import "github.com/compacter-go/compacter/kernels"

// Cost model of the PHM algorithms on the GPU (PHMAuto). Each path is
// charged the larger of its memory traffic at the device bandwidth and its
// arithmetic at the rate of the kernel doing it, plus work that does not
// overlap (building H and its gradient) and a fixed cost per kernel launch.
// The estimate is for one forward plus one backward pass (training), so both
// passes of a layer use the same algorithm. The constants were fitted to
// BenchmarkPHM on an H100 80GB HBM3 (FP32, no tensor cores; 768↔24, N = 2..12,
// 1024..65536 rows; within a factor of about 1.5 of those timings); only the
// ratio of the two estimates matters.
const (
	// phmCostBW is the achievable device-memory bandwidth (bytes/s).
	phmCostBW = 2.5e12
	// phmCostGemm is cuBLAS SGEMM's rate on large products (flop/s).
	phmCostGemm = 40e12
	// phmCostFused is the rate of the fused LPHM kernels (flop/s, measured
	// 1.9e12 to 2.3e12 at the adapter shapes).
	phmCostFused = 2e12
	// phmCostFusedFull is the rate of the fused full-rank kernels, whose
	// per-row buffers of n·Out floats limit the rows per tile (flop/s,
	// measured 1.3e12 to 5e12).
	phmCostFusedFull = 1.3e12
	// phmCostKron is the rate of kron_sum, kron_dw and kron_da (flop/s).
	phmCostKron = 3e12
	// phmCostLaunch is the cost of one kernel launch or cuBLAS call (s).
	phmCostLaunch = 7e-6
)

// gemmRate derates phmCostGemm for thin products (measured about 7.5e12
// with a side of 24).
func gemmRate(m, n, k int) float64 {
	d := float64(min(m, n, k))
	return phmCostGemm * d / (d + 100)
}

// phmCost estimates the seconds of one forward and one backward pass of a
// PHM layer (rank 0) or LPHM layer (rank > 0) over rows rows with algo
// (PHMFused or PHMMaterialize).
func phmCost(algo kernels.PHMAlgo, rows, in, out, n, rank int) float64 {
	R, I, O, N, r := float64(rows), float64(in), float64(out), float64(n), float64(rank)
	p, q := I/N, O/N
	// Both paths read X twice, write Y, read DY and write DX.
	stream := 4 * R * (3*I + 2*O)
	if algo == kernels.PHMMaterialize {
		// KronSum twice, kron_dw and kron_da (2·n·I·O each), the low-rank
		// GEMMs; H or dH written and read about six times; three GEMMs.
		kron := 4 * 2 * N * I * O
		if rank > 0 {
			kron += 3 * 2 * N * p * q * r
		}
		h := 6 * 4 * I * O / phmCostBW
		gemm := 3 * 2 * R * I * O / gemmRate(rows, in, out)
		launches := 16.0 // with scratch allocations and cuBLAS calls
		if rank > 0 {
			launches += 8
		}
		return max(stream/phmCostBW, gemm) + kron/phmCostKron + h + launches*phmCostLaunch
	}
	var flops float64
	rate := phmCostFused
	if rank > 0 {
		// J = n·r: P = X·S twice, dX, dS (In side); Y, dQ, dT (Out side);
		// the n×n mixing forward, again for Q, dP and dA.
		J := N * r
		flops = 2 * R * J * (4*I + 3*O + 4*N*N)
	} else {
		// J = n·q = Out: P = X·W twice, dX, dW; Y, dP and dA mix n² terms.
		flops = 2 * R * O * (4*I + 3*N*N)
		rate = phmCostFusedFull
	}
	return max(stream/phmCostBW, flops/rate) + 6*phmCostLaunch
}

// choosePHM is the algorithm PHMAuto runs for a layer of the given shape:
// the cheaper of PHMFused and PHMMaterialize under phmCost.
func choosePHM(rows, in, out, n, rank int) kernels.PHMAlgo {
	if phmCost(kernels.PHMFused, rows, in, out, n, rank) <= phmCost(kernels.PHMMaterialize, rows, in, out, n, rank) {
		return kernels.PHMFused
	}
	return kernels.PHMMaterialize
}
