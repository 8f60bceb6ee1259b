// Cross-entropy loss and its gradient of the compacter CUDA backend: one
// block per row (grid-stride over rows). Labels are checked on the host
// before a launch. DLogits may alias Logits: the row is read (label logit,
// max, sum) before a barrier, and each thread then rewrites only the
// elements it read itself.

#include <math_constants.h>

__device__ __forceinline__ double warp_sum(double v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
	return v;
}

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

// cross_entropy: loss[r] = logsumexp(x[r, :]) − x[r, label] (0 where label
// = ignore); when dlogits is not null, dlogits[r, :] = (softmax(x[r, :]) −
// onehot(label))·gscale, zeros on ignored rows.
extern "C" __global__ void cross_entropy(float *loss, float *dlogits, const float *logits, const int *labels,
                                         int rows, int vocab, int ignore, float gscale) {
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = logits + r * vocab;
		float *dr = dlogits ? dlogits + r * vocab : 0;
		int lab = labels[r];
		if (lab == ignore) {
			if (threadIdx.x == 0) loss[r] = 0.0f;
			if (dr) {
				for (int c = threadIdx.x; c < vocab; c += blockDim.x) dr[c] = 0.0f;
			}
			continue;
		}
		float target = xr[lab];
		float mx = -CUDART_INF_F;
		for (int c = threadIdx.x; c < vocab; c += blockDim.x) mx = fmaxf(mx, xr[c]);
		mx = block_max(mx);
		double s = 0;
		for (int c = threadIdx.x; c < vocab; c += blockDim.x) s += expf(xr[c] - mx);
		s = block_sum(s);
		if (threadIdx.x == 0) loss[r] = (float)((double)mx + log(s) - (double)target);
		if (dr) {
			float scale = (float)((double)gscale / s);
			for (int c = threadIdx.x; c < vocab; c += blockDim.x) {
				float v = expf(xr[c] - mx) * scale;
				if (c == lab) v -= gscale;
				dr[c] = v;
			}
		}
	}
}
