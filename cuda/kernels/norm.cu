// RMSNorm (T5LayerNorm) forward and backward of the compacter CUDA backend:
// one block per row (grid-stride over rows), sums in double.

__device__ __forceinline__ double warp_sum(double v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	return v;
}

// block_sum returns the sum of v over the block (blockDim.x a multiple of
// 32) in every thread.
__device__ double block_sum(double v) {
	__shared__ double sh[33];
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	v = threadIdx.x < nw ? sh[threadIdx.x] : 0.0;
	if (w == 0) v = warp_sum(v);
	if (threadIdx.x == 0) sh[32] = v;
	__syncthreads();
	return sh[32];
}

// rmsnorm_fwd: rstd[r] = 1/√(mean_c x[r,c]² + eps), y[r,c] = w[c]·(x[r,c]·rstd[r]).
extern "C" __global__ void rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int rows, int cols, float eps) {
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = x + r * cols;
		float *yr = y + r * cols;
		double ss = 0;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) {
			double v = xr[c];
			ss += v * v;
		}
		ss = block_sum(ss);
		float var = (float)(ss / cols) + eps;
		float rs = (float)(1.0 / sqrt((double)var));
		if (threadIdx.x == 0) rstd[r] = rs;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = w[c] * (xr[c] * rs);
	}
}

// rmsnorm_dw: dw[c] += Σ_r dy[r,c]·x[r,c]·rstd[r], in blocks of 32×8
// threads as sum_rows_f32.
extern "C" __global__ void rmsnorm_dw(float *dw, const float *dy, const float *x, const float *rstd, int rows, int cols) {
	__shared__ double part[8][33];
	int tx = threadIdx.x, ty = threadIdx.y;
	for (long long c0 = (long long)blockIdx.x * 32; c0 < cols; c0 += (long long)gridDim.x * 32) {
		long long c = c0 + tx;
		double s = 0;
		if (c < cols) {
			for (long long r = ty; r < rows; r += 8) s += (double)dy[r * cols + c] * x[r * cols + c] * rstd[r];
		}
		part[ty][tx] = s;
		__syncthreads();
		if (ty == 0 && c < cols) {
			double t = 0;
			for (int k = 0; k < 8; k++) t += part[k][tx];
			dw[c] = dw[c] + (float)t;
		}
		__syncthreads();
	}
}

// rmsnorm_dx: g = Σ_c w·dy·x, dx = rstd·(w·dy − x·rstd²·g/cols). dx may
// alias dy: each thread reads its elements before writing them.
extern "C" __global__ void rmsnorm_dx(float *dx, const float *dy, const float *x, const float *w, const float *rstd, int rows, int cols) {
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = x + r * cols, *dyr = dy + r * cols;
		float *dxr = dx + r * cols;
		double g = 0;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) g += (double)w[c] * dyr[c] * xr[c];
		g = block_sum(g);
		float rs = rstd[r];
		float coef = (float)((double)rs * rs * g / cols);
		for (int c = threadIdx.x; c < cols; c += blockDim.x) dxr[c] = rs * (w[c] * dyr[c] - xr[c] * coef);
	}
}
