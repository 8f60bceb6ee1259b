// Permute of the compacter CUDA backend: one thread per element of dst
// (coalesced writes), gathering from src with the strides of the permuted
// axes.

// permute4: dst of shape (o0, o1, o2, o3), n = o0·o1·o2·o3 elements;
// dst[i0, i1, i2, i3] = src[i0·ps0 + i1·ps1 + i2·ps2 + i3·ps3].
extern "C" __global__ void permute4(float *dst, const float *src, long long n, int o1, int o2, int o3,
                                    long long ps0, long long ps1, long long ps2, long long ps3) {
	for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += (long long)blockDim.x * gridDim.x) {
		long long t = k;
		long long i3 = t % o3;
		t /= o3;
		long long i2 = t % o2;
		t /= o2;
		long long i1 = t % o1;
		long long i0 = t / o1;
		dst[k] = src[i0 * ps0 + i1 * ps1 + i2 * ps2 + i3 * ps3];
	}
}
