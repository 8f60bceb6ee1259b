// The AdamW step of the compacter CUDA backend, elementwise in float32 in
// PyTorch's order; the scalar coefficients are computed on the host in
// float64 and rounded to float32, as the CPU backend does.

// adamw: p *= decay; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p −= step·m/(√v/bc2sqrt + eps).
extern "C" __global__ void adamw(float *p, const float *g, float *m, float *v, long long n, float decay,
                                 float beta1, float beta2, float omb1, float omb2, float step, float bc2sqrt, float eps) {
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x) {
		float gi = g[i];
		float x = p[i] * decay;
		float mi = beta1 * m[i] + omb1 * gi;
		float vi = beta2 * v[i] + omb2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		float denom = sqrtf(vi) / bc2sqrt + eps;
		p[i] = x - step * (mi / denom);
	}
}
