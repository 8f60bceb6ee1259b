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

// fwht_x<L> and fwht_xp<L> transform vectors of n = 2^L elements,
// 13 <= L <= 15, one vector per block of TB = n/32 threads, each thread
// holding 32 elements, with two shared-memory exchanges instead of warp
// shuffles (a shuffle level costs as much shared-memory bandwidth as half an
// exchange):
//   - phase A: thread t loads the elements i = k*TB + t, k < 32 (coalesced):
//     the levels of the k bits (bits L-5..L-1 of i) in registers;
//   - phase B: after an exchange through shared memory thread t holds the
//     32 consecutive elements i = 32*t + c: levels 0..4 in registers, written
//     back in place (each thread rewrites only what it read);
//   - phase C: thread (warp w, lane) holds i = 1024*w + 32*r + lane, r < 32:
//     the levels of bits 5..L-6 in registers (bits L-5..9 were phase A's),
//     stored to global memory (lanes hold consecutive elements: coalesced).
// Element i sits at shared index i + i/32 (one pad float per 32), which
// makes every warp's access in the three patterns bank-conflict free.
// fwht_xp<L> also stages the first P of each thread's 32 phase-A elements of
// the block's next vector in a per-thread slot of shared memory with
// cp.async (sm_80+), issued after the first exchange, so that the global
// loads of the next vector overlap the exchanges and stores of this one; a
// thread reads back only the slots it filled itself (cp.async.wait_group),
// so the staging needs no barrier. Blocks loop over the batch (grid-stride).

__device__ __forceinline__ void cpAsync4(float* dst, const float* src)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(src) : "memory");
}

__device__ __forceinline__ void cpAsyncCommit()
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

__device__ __forceinline__ void cpAsyncWaitAll()
{
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

template <int L, int P>
__device__ __forceinline__ void fwhtXStage(float* pre, const float* src, int t)
{
    constexpr int TB = 1 << (L - 5);
#pragma unroll
    for (int k = 0; k < P; k++) {
        cpAsync4(pre + k * TB + t, src + k * TB + t);
    }
    cpAsyncCommit();
}

template <int L, int P>
__device__ void fwhtX(float* __restrict__ x, long long batch, float scale)
{
    constexpr int N = 1 << L;
    constexpr int TB = N >> 5;            // threads per vector (blockDim.x)
    constexpr int ROWA = TB + TB / 32;    // padded stride of phase A's k
    constexpr int LIMIT = 1 << (L - 10);  // phase C: levels 5..L-6
    extern __shared__ float sm[];
    float* xs = sm;                       // exchange: N + N/32 floats
    float* pre = sm + N + N / 32;         // staging: P*TB floats
    const int t = threadIdx.x, lane = t & 31, w = t >> 5;
    const int a = t + (t >> 5);           // pad(k*TB + t) = k*ROWA + a
    const int b = 33 * t;                 // pad(32*t + c) = b + c
    const int c0 = 1056 * w + lane;       // pad(1024*w + 32*r + lane) = c0 + 33*r
    float v[32];
    long long vec = blockIdx.x;
    if (P > 0 && vec < batch) {
        fwhtXStage<L, P>(pre, x + vec * N, t);
    }
    for (; vec < batch; vec += gridDim.x) {
        float* base = x + vec * N;
#pragma unroll
        for (int k = P; k < 32; k++) {
            v[k] = base[k * TB + t];
        }
        if (P > 0) {
            cpAsyncWaitAll();
#pragma unroll
            for (int k = 0; k < P; k++) {
                v[k] = pre[k * TB + t];
            }
        }
        __syncthreads(); // the previous vector's phase-C reads of xs are done
        butterflies<32>(v, 32);
#pragma unroll
        for (int k = 0; k < 32; k++) {
            xs[k * ROWA + a] = v[k];
        }
        __syncthreads();
        // This thread's staged elements are consumed (they went into xs
        // before the barrier): stage the block's next vector.
        if (P > 0 && vec + gridDim.x < batch) {
            fwhtXStage<L, P>(pre, x + (vec + gridDim.x) * N, t);
        }
#pragma unroll
        for (int c = 0; c < 32; c++) {
            v[c] = xs[b + c];
        }
        butterflies<32>(v, 32);
#pragma unroll
        for (int c = 0; c < 32; c++) {
            xs[b + c] = v[c];
        }
        __syncthreads();
#pragma unroll
        for (int r = 0; r < 32; r++) {
            v[r] = xs[c0 + 33 * r];
        }
        butterflies<32>(v, LIMIT);
        float* out = base + 1024 * w + lane;
#pragma unroll
        for (int r = 0; r < 32; r++) {
            out[32 * r] = v[r] * scale;
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 4) fwht_x13(float* x, long long batch, float scale)
{
    fwhtX<13, 0>(x, batch, scale);
}

extern "C" __global__ void __launch_bounds__(512, 2) fwht_x14(float* x, long long batch, float scale)
{
    fwhtX<14, 0>(x, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_x15(float* x, long long batch, float scale)
{
    fwhtX<15, 0>(x, batch, scale);
}

extern "C" __global__ void __launch_bounds__(256, 4) fwht_xp13(float* x, long long batch, float scale)
{
    fwhtX<13, 16>(x, batch, scale);
}

extern "C" __global__ void __launch_bounds__(512, 2) fwht_xp14(float* x, long long batch, float scale)
{
    fwhtX<14, 16>(x, batch, scale);
}

extern "C" __global__ void __launch_bounds__(1024) fwht_xp15(float* x, long long batch, float scale)
{
    fwhtX<15, 22>(x, batch, scale);
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
