// Masked softmax over the last axis and its backward, for the compacter CUDA
// backend: one block per row (grid-stride over rows); every thread handles
// the columns c ≡ threadIdx.x (mod blockDim.x) in each pass, so Y may alias X.

#include <math_constants.h>

__device__ __forceinline__ double warp_sum(double v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
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

// block_max returns the maximum of v over the block in every thread.
__device__ float block_max(float v) {
	__shared__ float sh[33];
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	v = threadIdx.x < nw ? sh[threadIdx.x] : -CUDART_INF_F;
	if (w == 0) v = warp_max(v);
	if (threadIdx.x == 0) sh[32] = v;
	__syncthreads();
	return sh[32];
}

// softmax_fwd: Y = softmax(X + Σ masks) over rows of cols elements of X of
// shape [nrows/(heads·rows), heads, rows, cols]. Mask k (k < nmask) adds
// m_k[b·sb_k + h·sh_k + r·sr_k + c]. With causal, columns c > r + cols − rows
// are excluded (0); a row whose maximum is −∞ is all zeros.
extern "C" __global__ void softmax_fwd(float *y, const float *x, long long nrows, int heads, int rows, int cols,
                                       int causal, int nmask,
                                       const float *m0, long long sb0, long long sh0, long long sr0,
                                       const float *m1, long long sb1, long long sh1, long long sr1,
                                       const float *m2, long long sb2, long long sh2, long long sr2,
                                       const float *m3, long long sb3, long long sh3, long long sr3) {
	for (long long i = blockIdx.x; i < nrows; i += gridDim.x) {
		long long r = i % rows, bh = i / rows;
		long long hd = bh % heads, bt = bh / heads;
		int valid = causal ? (int)(r + cols - rows + 1) : cols;
		const float *xr = x + i * cols;
		float *yr = y + i * cols;
		const float *mr0 = nmask > 0 ? m0 + bt * sb0 + hd * sh0 + r * sr0 : 0;
		const float *mr1 = nmask > 1 ? m1 + bt * sb1 + hd * sh1 + r * sr1 : 0;
		const float *mr2 = nmask > 2 ? m2 + bt * sb2 + hd * sh2 + r * sr2 : 0;
		const float *mr3 = nmask > 3 ? m3 + bt * sb3 + hd * sh3 + r * sr3 : 0;
		float mx = -CUDART_INF_F;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) {
			if (c >= valid) {
				yr[c] = 0.0f;
				continue;
			}
			float v = xr[c];
			if (nmask > 0) v += mr0[c];
			if (nmask > 1) v += mr1[c];
			if (nmask > 2) v += mr2[c];
			if (nmask > 3) v += mr3[c];
			yr[c] = v;
			mx = fmaxf(mx, v);
		}
		mx = block_max(mx);
		if (mx == -CUDART_INF_F) {
			for (int c = threadIdx.x; c < valid; c += blockDim.x) yr[c] = 0.0f;
			continue;
		}
		double s = 0;
		for (int c = threadIdx.x; c < valid; c += blockDim.x) {
			float e = expf(yr[c] - mx);
			yr[c] = e;
			s += e;
		}
		s = block_sum(s);
		float inv = (float)(1.0 / s);
		for (int c = threadIdx.x; c < valid; c += blockDim.x) yr[c] = yr[c] * inv;
	}
}

// softmax_bwd: dx = y ⊙ (dy − Σ_c dy·y) per row; dx may alias dy.
extern "C" __global__ void softmax_bwd(float *dx, const float *dy, const float *y, long long rows, int cols) {
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *dyr = dy + r * cols, *yr = y + r * cols;
		float *dxr = dx + r * cols;
		double dot = 0;
		for (int c = threadIdx.x; c < cols; c += blockDim.x) dot += (double)dyr[c] * yr[c];
		float d = (float)block_sum(dot);
		for (int c = threadIdx.x; c < cols; c += blockDim.x) dxr[c] = yr[c] * (dyr[c] - d);
	}
}
