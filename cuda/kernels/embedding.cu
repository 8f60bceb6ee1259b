// Embedding gather and scatter-add of the compacter CUDA backend. The ids
// are checked on the host (every id in [0, rows)) before a launch.

#define GRID_STRIDE(i, n) \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
	     i += (long long)blockDim.x * gridDim.x)

// embedding_fwd: dst[i, c] = table[ids[i], c] for i < n, c < dim.
extern "C" __global__ void embedding_fwd(float *dst, const float *table, const int *ids, long long n, int dim) {
	GRID_STRIDE(k, n * dim) {
		long long i = k / dim, c = k % dim;
		dst[k] = table[(long long)ids[i] * dim + c];
	}
}

// embedding_bwd: dtable[ids[i], c] += dout[i, c], with atomicAdd for
// repeated ids.
extern "C" __global__ void embedding_bwd(float *dtable, const float *dout, const int *ids, long long n, int dim) {
	GRID_STRIDE(k, n * dim) {
		long long i = k / dim, c = k % dim;
		atomicAdd(dtable + (long long)ids[i] * dim + c, dout[k]);
	}
}
