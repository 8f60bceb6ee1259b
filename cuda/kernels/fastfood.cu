// Seeded Fastfood projection of package fastfood on the device
// (kernels.FastfoodBackend): P x = Scale * (H G Pi H B pad(x))[:D], with the
// random state B, Pi and G evaluated from the constants of the seed (see
// kernels.FastfoodSeed) and the Walsh-Hadamard transforms H done by the
// backend's FWHT kernels (fwht.cu) between the kernels here:
//
//   forward: ff_sign_load (u = B x over the m-point span) -> FWHT(m)
//            -> ff_gather (v[i] = u[Pi(i) mod m] * G(i), i < L; ff_gather2
//               for version 2 of the state) -> FWHT(L)
//            -> ff_output (out = base + alpha * (scale * v), i < D)
//   adjoint: ff_load_scaled (z = scale * y, zero-padded to L) -> FWHT(L)
//            -> ff_scatter_* (u[Pi(i) mod m] += G(i) * z[i]; ff_scatter2_*
//               for version 2) -> FWHT(m)
//            -> ff_adjoint_out (out += alpha * B u, dot += <B u, with>)
//
// Products are rounded separately (__fmul_rn / __fadd_rn: no contraction
// into FMAs) as on the host, so every element-wise step matches the host's
// float32 arithmetic; only the transforms and the scatter sum in another
// order. Element indices are long long (L up to 2^30 and grid-stride
// loops); the hashes take them as 32-bit unsigned, as the host does.

typedef unsigned long long u64;
typedef unsigned int u32;

// mix64 is kernels.Mix64, the SplitMix64 finaliser.
__device__ __forceinline__ u64 mix64(u64 z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// ff_sign_bit returns 1u << 31 when B[i] = -1: bit i mod 64 of
// mix64(key + i/64).
__device__ __forceinline__ u32 ff_sign_bit(u64 key, long long i)
{
    return ((u32)(mix64(key + (u64)(i >> 6)) >> (i & 63)) & 1u) << 31;
}

// ff_perm returns Pi(i) (kernels.FastfoodSeed.Perm).
__device__ __forceinline__ u32 ff_perm(u32 i, u32 a0, u32 k0, u32 a1, u32 mask, u32 shift)
{
    u32 x = (i * a0 + k0) & mask;
    x ^= x >> shift;
    x = (x * a1) & mask;
    return x ^ (x >> shift);
}

// ff_gidx returns the quantile-table index of G(i)
// (kernels.FastfoodSeed.GaussIndex).
__device__ __forceinline__ u32 ff_gidx(u32 i, u32 kg)
{
    u32 h = i + kg;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h >> 16;
}

#define FF_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)

// ff_sign_load: u[i] = B[i] * x[i] for i < k = min(d, L), u[i] = 0 for
// k <= i < m.
extern "C" __global__ void ff_sign_load(float* __restrict__ u, const float* __restrict__ x, long long k, long long m, u64 key)
{
    FF_LOOP(i, m)
    {
        u[i] = i < k ? __uint_as_float(__float_as_uint(x[i]) ^ ff_sign_bit(key, i)) : 0.f;
    }
}

// ff_gather: v[i] = u[Pi(i) & mm] * G(i) for i < L (u holds m = mm + 1
// floats).
extern "C" __global__ void ff_gather(float* __restrict__ v, const float* __restrict__ u, const float* __restrict__ gauss,
    long long L, u32 a0, u32 k0, u32 a1, u32 mask, u32 shift, u32 kg, u32 mm)
{
    FF_LOOP(i, L)
    {
        const u32 j = (u32)i;
        v[i] = __fmul_rn(u[ff_perm(j, a0, k0, a1, mask, shift) & mm], gauss[ff_gidx(j, kg)]);
    }
}

// ff_output: out[i] = base[i] + alpha * (scale * h[i]) for i < D; a null
// base counts as 0 and a null alpha as 1. base may be out.
extern "C" __global__ void ff_output(float* out, const float* base, const float* __restrict__ h, const float* __restrict__ alpha,
    float scale, long long D)
{
    const float a = alpha ? *alpha : 1.f;
    FF_LOOP(i, D)
    {
        const float t = __fmul_rn(a, __fmul_rn(scale, h[i]));
        out[i] = base ? __fadd_rn(base[i], t) : t;
    }
}

// ff_load_scaled: z[i] = scale * y[i] for i < D, z[i] = 0 for D <= i < L.
extern "C" __global__ void ff_load_scaled(float* __restrict__ z, const float* __restrict__ y, float scale, long long D, long long L)
{
    FF_LOOP(i, L)
    {
        z[i] = i < D ? __fmul_rn(scale, y[i]) : 0.f;
    }
}

// ff_scatter_global: u[Pi(i) & mm] += z[i] * G(i) for i < L, by atomics
// in global memory (u zeroed by the caller).
extern "C" __global__ void ff_scatter_global(float* u, const float* __restrict__ z, const float* __restrict__ gauss,
    long long L, u32 a0, u32 k0, u32 a1, u32 mask, u32 shift, u32 kg, u32 mm)
{
    FF_LOOP(i, L)
    {
        const u32 j = (u32)i;
        atomicAdd(&u[ff_perm(j, a0, k0, a1, mask, shift) & mm], __fmul_rn(z[i], gauss[ff_gidx(j, kg)]));
    }
}

// ff_scatter_shared is ff_scatter_global with one m-float accumulator per
// block in dynamic shared memory (m = mm + 1 floats): the block sums its
// grid-stride share of [0, L) there, then adds each non-zero entry to u once.
extern "C" __global__ void ff_scatter_shared(float* u, const float* __restrict__ z, const float* __restrict__ gauss,
    long long L, u32 a0, u32 k0, u32 a1, u32 mask, u32 shift, u32 kg, u32 mm)
{
    extern __shared__ float acc[];
    const u32 m = mm + 1;
    for (u32 j = threadIdx.x; j < m; j += blockDim.x) {
        acc[j] = 0.f;
    }
    __syncthreads();
    FF_LOOP(i, L)
    {
        const u32 j = (u32)i;
        atomicAdd(&acc[ff_perm(j, a0, k0, a1, mask, shift) & mm], __fmul_rn(z[i], gauss[ff_gidx(j, kg)]));
    }
    __syncthreads();
    for (u32 j = threadIdx.x; j < m; j += blockDim.x) {
        const float v = acc[j];
        if (v != 0.f) {
            atomicAdd(&u[j], v);
        }
    }
}

// Version 2 of the seeded state (kernels.FastfoodSeed): blocks of 2^c
// elements, groups of eight, lane permutations from the table lanes
// (FastfoodLanePerms, rows of eight int32).

// ff_fmix32 is the MurmurHash3 32-bit finaliser.
__device__ __forceinline__ u32 ff_fmix32(u32 h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

// ff2_index sets *pu = Pi(j) and *pg = the table index of G(j) for a
// version-2 seed (kernels.FastfoodSeed.Perm and GaussIndex).
__device__ __forceinline__ void ff2_index(u32 j, const int* __restrict__ lanes, u32 a0, u32 k0, u32 a1, u32 bmask,
    u32 shift, u32 kgk, u32 kb, u32 c, u32 a2, u32 a3, u32 shift2, u32 a4, u32 a5, u32* pu, u32* pg)
{
    u32 b = 0, g = 0, r = j;
    if (c >= 3) {
        b = j >> c;
        const u32 lo = j & ((1u << c) - 1u);
        g = lo >> 3;
        r = lo & 7u;
    }
    const u32 key = ff_fmix32(b + kb), kg = ff_fmix32(b + kgk), h = ff_fmix32(key + g);
    u32 z = (g * a4 + kg) & 511u;
    z ^= z >> 5;
    z = (z * a5) & 511u;
    z ^= z >> 5;
    *pg = z << 3 | (u32)lanes[((h >> 20) & 63u) * 8u + r];
    if (c < 3) {
        *pu = j;
        return;
    }
    const u32 gmask = (1u << (c - 3)) - 1u;
    u32 y = (g * a2 + key) & gmask;
    y ^= y >> shift2;
    y = (y * a3) & gmask;
    y ^= y >> shift2;
    *pu = ff_perm(b, a0, k0, a1, bmask, shift) << c | y << 3 | (u32)lanes[(h >> 26) * 8u + r];
}

#define FF2_PARAMS                                                                                         \
    long long L, u32 a0, u32 k0, u32 a1, u32 bmask, u32 shift, u32 kg, u32 mm, u32 kb, u32 c, u32 a2, u32 a3, \
        u32 shift2, u32 a4, u32 a5
#define FF2_INDEX(j, pu, pg) ff2_index(j, lanes, a0, k0, a1, bmask, shift, kg, kb, c, a2, a3, shift2, a4, a5, &pu, &pg)

// ff_gather2 is ff_gather for a version-2 seed.
extern "C" __global__ void ff_gather2(float* __restrict__ v, const float* __restrict__ u, const float* __restrict__ gauss,
    const int* __restrict__ lanes, FF2_PARAMS)
{
    FF_LOOP(i, L)
    {
        u32 pu, pg;
        FF2_INDEX((u32)i, pu, pg);
        v[i] = __fmul_rn(u[pu & mm], gauss[pg]);
    }
}

// ff_scatter2_global is ff_scatter_global for a version-2 seed.
extern "C" __global__ void ff_scatter2_global(float* u, const float* __restrict__ z, const float* __restrict__ gauss,
    const int* __restrict__ lanes, FF2_PARAMS)
{
    FF_LOOP(i, L)
    {
        u32 pu, pg;
        FF2_INDEX((u32)i, pu, pg);
        atomicAdd(&u[pu & mm], __fmul_rn(z[i], gauss[pg]));
    }
}

// ff_scatter2_shared is ff_scatter_shared for a version-2 seed.
extern "C" __global__ void ff_scatter2_shared(float* u, const float* __restrict__ z, const float* __restrict__ gauss,
    const int* __restrict__ lanes, FF2_PARAMS)
{
    extern __shared__ float acc[];
    const u32 m = mm + 1;
    for (u32 j = threadIdx.x; j < m; j += blockDim.x) {
        acc[j] = 0.f;
    }
    __syncthreads();
    FF_LOOP(i, L)
    {
        u32 pu, pg;
        FF2_INDEX((u32)i, pu, pg);
        atomicAdd(&acc[pu & mm], __fmul_rn(z[i], gauss[pg]));
    }
    __syncthreads();
    for (u32 j = threadIdx.x; j < m; j += blockDim.x) {
        const float v = acc[j];
        if (v != 0.f) {
            atomicAdd(&u[j], v);
        }
    }
}

__device__ __forceinline__ double ff_warp_sum(double v)
{
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_down_sync(0xffffffffu, v, o);
    }
    return v;
}

// ff_adjoint_out: with a[i] = B[i] * u[i] for i < k = min(d, L):
// out[i] += alpha * a[i] (a null alpha counts as 1) and, when dot is not
// null, dot[0] += sum_i a[i] * with[i] (in double within a block, one float
// atomic per block). blockDim.x is a multiple of 32, at most 1024.
extern "C" __global__ void ff_adjoint_out(float* __restrict__ out, const float* __restrict__ u, const float* __restrict__ alpha,
    float* dot, const float* __restrict__ with, long long k, u64 key)
{
    __shared__ double part[32];
    const float al = alpha ? *alpha : 1.f;
    double s = 0;
    FF_LOOP(i, k)
    {
        const float a = __uint_as_float(__float_as_uint(u[i]) ^ ff_sign_bit(key, i));
        out[i] = __fadd_rn(out[i], __fmul_rn(al, a));
        if (dot) {
            s += (double)a * (double)with[i];
        }
    }
    if (dot == 0) {
        return; // uniform across the grid: no thread reaches the barriers
    }
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    s = ff_warp_sum(s);
    if (lane == 0) {
        part[w] = s;
    }
    __syncthreads();
    if (w == 0) {
        s = lane < nw ? part[lane] : 0.0;
        s = ff_warp_sum(s);
        if (lane == 0 && s != 0.0) {
            atomicAdd(dot, (float)s);
        }
    }
}
