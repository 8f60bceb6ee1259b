// Reductions of the compacter CUDA backend: column sums (the gradient of a
// bias) and the sum of squares (gradient clipping). Sums are accumulated in
// double, in a fixed order, so results do not depend on scheduling.

// sum_rows_f32: dst[c] = beta·dst[c] + Σ_r x[r, c] for x of rows×cols; dst
// is not read when beta = 0. Blocks of 32×8 threads: 32 columns per block,
// 8 threads splitting the rows of each column, combined in shared memory.
extern "C" __global__ void sum_rows_f32(float *dst, const float *x, int rows, int cols, float beta) {
	__shared__ double part[8][33];
	int tx = threadIdx.x, ty = threadIdx.y;
	for (long long c0 = (long long)blockIdx.x * 32; c0 < cols; c0 += (long long)gridDim.x * 32) {
		long long c = c0 + tx;
		double s = 0;
		if (c < cols) {
			for (long long r = ty; r < rows; r += 8) s += x[r * cols + c];
		}
		part[ty][tx] = s;
		__syncthreads();
		if (ty == 0 && c < cols) {
			double t = 0;
			for (int k = 0; k < 8; k++) t += part[k][tx];
			dst[c] = beta == 0.0f ? (float)t : beta * dst[c] + (float)t;
		}
		__syncthreads();
	}
}

__device__ __forceinline__ double warp_sum(double v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	return v;
}

// block_sum returns the sum of v over the block (blockDim.x a multiple of
// 32, at most 1024) in thread 0.
__device__ double block_sum(double v) {
	__shared__ double sh[32];
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	v = threadIdx.x < nw ? sh[threadIdx.x] : 0.0;
	if (w == 0) v = warp_sum(v);
	return v;
}

// sum_squares_partial: part[blockIdx.x] = Σ x[i]² over the elements of the
// block's grid-stride share.
extern "C" __global__ void sum_squares_partial(const float *x, long long n, double *part) {
	double s = 0;
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x) {
		double v = x[i];
		s += v * v;
	}
	s = block_sum(s);
	if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// sum_squares_final: dst[0] += Σ part[0..nparts), in double, by one block.
extern "C" __global__ void sum_squares_final(float *dst, const double *part, int nparts) {
	double s = 0;
	for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
	s = block_sum(s);
	if (threadIdx.x == 0) dst[0] = (float)((double)dst[0] + s);
}
