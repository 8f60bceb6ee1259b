// Elementwise kernels of the compacter CUDA backend: float32, row-major,
// grid-stride loops over 64-bit indices (any grid size covers any length).
// Outputs may alias inputs where the kernels.Backend spec allows it, so no
// pointer is __restrict__. The formulas follow cpu/ and kerneltest.

#define GRID_STRIDE(i, n) \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
	     i += (long long)blockDim.x * gridDim.x)

// binary_f32: dst[i] = a[i] op b[i], op 1 = add, 2 = sub, 3 = mul.
extern "C" __global__ void binary_f32(float *dst, const float *a, const float *b, long long n, int op) {
	GRID_STRIDE(i, n) {
		float x = a[i], y = b[i];
		dst[i] = op == 1 ? x + y : (op == 2 ? x - y : x * y);
	}
}

// axpby_f32: dst[i] = alpha·x[i] + beta·dst[i]; dst is not read when beta = 0.
extern "C" __global__ void axpby_f32(float *dst, const float *x, long long n, float alpha, float beta) {
	GRID_STRIDE(i, n) {
		if (beta == 0.0f) {
			dst[i] = x[i] * alpha;
		} else {
			dst[i] = alpha * x[i] + beta * dst[i];
		}
	}
}

// scale_f32: dst[i] *= alpha.
extern "C" __global__ void scale_f32(float *dst, long long n, float alpha) {
	GRID_STRIDE(i, n) { dst[i] = dst[i] * alpha; }
}

// add_bias_f32: x[r, c] += bias[c] for n = rows·cols elements.
extern "C" __global__ void add_bias_f32(float *x, const float *bias, long long n, int cols) {
	GRID_STRIDE(i, n) { x[i] = x[i] + bias[i % cols]; }
}

// gemm_scale_c: C = beta·C on a strided batch of m×n matrices (row-major,
// leading dimension ldc): the GEMM of K = 0. With beta = 0, C is not read.
extern "C" __global__ void gemm_scale_c(float *c, int m, int n, int ldc, long long stride, int batch, float beta) {
	long long per = (long long)m * n;
	GRID_STRIDE(i, per * batch) {
		long long bt = i / per, rem = i % per;
		float *p = c + bt * stride + (rem / n) * ldc + rem % n;
		*p = beta == 0.0f ? 0.0f : beta * *p;
	}
}

// Activations, numbered as kernels.Activation.
#define ACT_RELU 1
#define ACT_GELU_NEW 2
#define ACT_GELU 3
#define ACT_SILU 4
#define ACT_TANH 5
#define ACT_SIGMOID 6

#define SQRT_2_OVER_PI 0.7978845608028654
#define GELU_COEF 0.044715
#define INV_SQRT2 0.7071067811865476
#define INV_SQRT_2PI 0.3989422804014327

// exp_clamped is e^x for x clamped to [−87.33654, 88] (NaN stays NaN), as
// the CPU's expClamped: saturated instead of 0·∞ in the formulas below.
__device__ __forceinline__ float exp_clamped(float x) {
	x = x < -87.33654f ? -87.33654f : (x > 88.0f ? 88.0f : x);
	return expf(x);
}

// gelu_new(x) = x·σ(2u), u = √(2/π)(x + 0.044715x³) (= 0.5x(1 + tanh u)).
__device__ __forceinline__ float gelu_new_e(float v) {
	const float a = (float)(-2 * SQRT_2_OVER_PI), b = (float)(-2 * SQRT_2_OVER_PI * GELU_COEF);
	return exp_clamped(v * (a + b * (v * v)));
}

__device__ float act_forward(int f, float v) {
	switch (f) {
	case ACT_RELU:
		return v < 0.0f ? 0.0f : v;
	case ACT_GELU_NEW:
		return v / (1.0f + gelu_new_e(v));
	case ACT_GELU: {
		double z = v;
		return (float)(0.5 * z * (1.0 + erf(z * INV_SQRT2)));
	}
	case ACT_SILU:
		return v / (1.0f + exp_clamped(-v));
	case ACT_TANH:
		return tanhf(v);
	default: // ACT_SIGMOID
		return 1.0f / (1.0f + exp_clamped(-v));
	}
}

// act_derivative returns dy·f'(x).
__device__ float act_derivative(int f, float dy, float v) {
	switch (f) {
	case ACT_RELU:
		return v <= 0.0f ? 0.0f : dy;
	case ACT_GELU_NEW: {
		float e = gelu_new_e(v);
		float s = 1.0f / (1.0f + e);
		float w = e * s * s;
		const float d0 = (float)(2 * SQRT_2_OVER_PI), d1 = (float)(6 * SQRT_2_OVER_PI * GELU_COEF);
		return dy * ((d0 + d1 * (v * v)) * (w * v) + s);
	}
	case ACT_GELU: {
		double z = v;
		double d = 0.5 * (1.0 + erf(z * INV_SQRT2)) + z * INV_SQRT_2PI * exp(-0.5 * z * z);
		return (float)((double)dy * d);
	}
	case ACT_SILU: {
		float e = exp_clamped(-v);
		float s = 1.0f / (1.0f + e);
		return dy * (v * (e * s * s) + s);
	}
	case ACT_TANH: {
		float a = fabsf(v), d;
		if (a < 0.625f) {
			float t = tanhf(v);
			d = 1.0f - t * t;
		} else {
			float q = 2.0f / (exp_clamped(2.0f * a) + 1.0f); // 1 − |tanh x|, without cancellation
			d = q * (2.0f - q);
		}
		return dy * d;
	}
	default: { // ACT_SIGMOID
		float e = exp_clamped(-v);
		float s = 1.0f / (1.0f + e);
		return dy * (e * s * s);
	}
	}
}

// act_f32: dst[i] = f(x[i]).
extern "C" __global__ void act_f32(float *dst, const float *x, long long n, int f) {
	GRID_STRIDE(i, n) { dst[i] = act_forward(f, x[i]); }
}

// act_backward_f32: dx[i] = dy[i]·f'(x[i]).
extern "C" __global__ void act_backward_f32(float *dx, const float *dy, const float *x, long long n, int f) {
	GRID_STRIDE(i, n) { dx[i] = act_derivative(f, dy[i], x[i]); }
}

// mix64 is the SplitMix64 finaliser, kernels.Mix64.
__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

// dropout_f32: dst[i] = src[i]·scale where kernels.DropoutKeep(seed,
// offset+i, p), else 0. The uniform number has 24 bits, so its float is
// exact and the mask equals the CPU's bit for bit.
extern "C" __global__ void dropout_f32(float *dst, const float *src, long long n, float p, float scale,
                                       unsigned long long seed, unsigned long long offset) {
	GRID_STRIDE(i, n) {
		unsigned long long u = mix64(seed ^ mix64(offset + (unsigned long long)i));
		float r = (float)(u >> 40) * (1.0f / 16777216.0f);
		dst[i] = r >= p ? src[i] * scale : 0.0f;
	}
}
