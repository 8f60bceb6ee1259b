// Walsh-Hadamard transform in natural (Sylvester) order, in place, on batch
// contiguous float32 vectors (kernels.Backend.FWHT).
//
// fwht_e<E> transforms vectors of n = 2^logN <= 2^15 elements, one vector
// per block (or blockDim.y vectors per block when they are short), with one
// global read and one global write per element. Thread t of TB = n/E
// threads holds the E elements i = k*TB + t, k < E (coalesced loads):
//   - the levels of the k bits (the top log2 E bits of i) are butterflies
//     between the thread's registers;
//   - the levels of the lane bits (bits 0..4 of i) are warp shuffles;
//   - the levels of the warp bits (bits 5..log2(TB)-1, when TB > 32) go
//     through shared memory: the vector is written to shared memory and read
//     back so that each thread holds E elements that differ only in their
//     warp bits (E >= TB/32 by the host's choice of E), butterflies in
//     registers, then stored straight to global memory (lanes still hold
//     consecutive elements: coalesced).
// The levels commute, so their order does not matter. The scale
// (2^(-logN/2) for the orthonormal transform of the whole vector, else 1) is
// applied at the store.
//
// fwht_pass_u<U> applies the U levels [l0, l0+U) to every vector of
// the batch (strided columns: each thread loads the 2^U elements of one
// butterfly group with stride 2^l0, l0 >= 10 so consecutive threads read
// consecutive addresses). Longer vectors (logN > 15, or > what shared
// memory holds) go through ceil((logN-B)/5) such passes for their upper
// levels and then through fwht_e<E> for their lowest B levels: each pass
// reads and writes every element once.

template <int E>
__device__ __forceinline__ void butterflies(float (&v)[E], int limit)
{
#pragma unroll
    for (int h = 1; h < E; h <<= 1) {
        if (h < limit) {
#pragma unroll
            for (int k = 0; k < E; k++) {
                if ((k & h) == 0) {
                    const float a = v[k], b = v[k + h];
                    v[k] = a + b;
                    v[k + h] = a - b;
                }
            }
        }
    }
}

template <int LOGE>
__device__ void fwhtSmem(float* __restrict__ x, int logN, long long batch, float scale)
{
    constexpr int E = 1 << LOGE;
    extern __shared__ float sm[];
    const int n = 1 << logN;
    const int TB = blockDim.x; // n / E, a power of two
    const int V = blockDim.y;  // vectors per block (TB*V is a multiple of 32)
    const int t = threadIdx.x, y = threadIdx.y;
    const int logTB = logN - LOGE;
    const int laneLevels = logTB < 5 ? logTB : 5;
    const int wb = logTB - 5; // warp-bit levels (> 0 only when TB > 32)
    float v[E];
    for (long long vb = blockIdx.x; vb * V < batch; vb += gridDim.x) {
        const long long vec = vb * V + y;
        const bool valid = vec < batch;
        float* base = x + vec * n;
#pragma unroll
        for (int k = 0; k < E; k++) {
            v[k] = valid ? base[k * TB + t] : 0.f;
        }
        butterflies<E>(v, E);
        for (int l = 0; l < laneLevels; l++) {
            const int m = 1 << l;
            const bool upper = (t & m) != 0;
#pragma unroll
            for (int k = 0; k < E; k++) {
                const float u = __shfl_xor_sync(0xffffffffu, v[k], m);
                v[k] = upper ? u - v[k] : v[k] + u;
            }
        }
        if (wb > 0) {
            float* s = sm + y * n;
#pragma unroll
            for (int k = 0; k < E; k++) {
                s[k * TB + t] = v[k];
            }
            __syncthreads();
            // Thread (g, lane) takes k = g*per + j, j < per = E/W, and every
            // warp bit w < W: element k*TB + w*32 + lane, which is
            // g*per*TB + 32*idx + lane for idx = j*W + w since TB = 32*W.
            const int W = 1 << wb, lane = t & 31, g = t >> 5;
            const int first = g * (E >> wb) * TB + lane;
#pragma unroll
            for (int idx = 0; idx < E; idx++) {
                v[idx] = s[first + 32 * idx];
            }
            butterflies<E>(v, W);
            if (valid) {
#pragma unroll
                for (int idx = 0; idx < E; idx++) {
                    base[first + 32 * idx] = v[idx] * scale;
                }
            }
            __syncthreads(); // s is rewritten by the next vector
        } else if (valid) {
#pragma unroll
            for (int k = 0; k < E; k++) {
                base[k * TB + t] = v[k] * scale;
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(1024) fwht_e1(float* x, int logN, long long batch, float scale)
{
    fwhtSmem<0>(x, logN, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_e2(float* x, int logN, long long batch, float scale)
{
    fwhtSmem<1>(x, logN, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_e4(float* x, int logN, long long batch, float scale)
{
    fwhtSmem<2>(x, logN, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_e8(float* x, int logN, long long batch, float scale)
{
    fwhtSmem<3>(x, logN, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_e16(float* x, int logN, long long batch, float scale)
{
    fwhtSmem<4>(x, logN, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_e32(float* x, int logN, long long batch, float scale)
{
    fwhtSmem<5>(x, logN, batch, scale);
}

// fwhtPass applies levels [l0, l0+U) to groups = total/2^U butterfly groups:
// group g has the elements ((g >> l0) << (l0+U)) + (k << l0) + (g & (2^l0-1)).
template <int U>
__device__ void fwhtPass(float* __restrict__ x, long long groups, int l0)
{
    constexpr int E = 1 << U;
    const long long lomask = (1LL << l0) - 1;
    const long long stride = 1LL << l0;
    for (long long g = blockIdx.x * (long long)blockDim.x + threadIdx.x; g < groups;
         g += (long long)gridDim.x * blockDim.x) {
        float* p = x + ((g >> l0) << (l0 + U)) + (g & lomask);
        float v[E];
#pragma unroll
        for (int k = 0; k < E; k++) {
            v[k] = p[k * stride];
        }
        butterflies<E>(v, E);
#pragma unroll
        for (int k = 0; k < E; k++) {
            p[k * stride] = v[k];
        }
    }
}

extern "C" __global__ void __launch_bounds__(256) fwht_pass_u1(float* x, long long groups, int l0)
{
    fwhtPass<1>(x, groups, l0);
}

extern "C" __global__ void __launch_bounds__(256) fwht_pass_u2(float* x, long long groups, int l0)
{
    fwhtPass<2>(x, groups, l0);
}

extern "C" __global__ void __launch_bounds__(256) fwht_pass_u3(float* x, long long groups, int l0)
{
    fwhtPass<3>(x, groups, l0);
}

extern "C" __global__ void __launch_bounds__(256) fwht_pass_u4(float* x, long long groups, int l0)
{
    fwhtPass<4>(x, groups, l0);
}

extern "C" __global__ void __launch_bounds__(256) fwht_pass_u5(float* x, long long groups, int l0)
{
    fwhtPass<5>(x, groups, l0);
}
