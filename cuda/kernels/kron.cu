// Kernels of the PHM and LPHM (Compacter) layers, in the conventions of
// kernels.KronParams and kernels.PHMParams (row-major, float32):
//
//   H = sum_i kron(A[i], W[i]),  H[a*p+s, c*q+t] = sum_i A[i,a,c] * W[i,s,t]
//
// with n = N, p = In/n, q = Out/n, A of [n,n,n], W of [n,p,q] (or W[i] =
// S[i]*T[i] for LPHM, S of [n,p,r], T of [n,r,q]).
//
// kron_sum, kron_dw and kron_da materialise H and take its gradient (the
// low-rank products W = S*T, dS and dT go through cuBLAS on the host side).
//
// phm_fwd_* and phm_bwd_* are the fused layers: H is never built. A block
// holds a tile of R rows in shared memory. Reshaping a row x to X of [n,p],
// both layers are written with one "left" factor L viewed as [p, J], J = n*M,
// L(s, i*M+m) = Lg[(i*p+s)*M+m]:
//
//   LPHM (M = r, L = S):  P[a,j] = sum_s X[a,s] L(s,j)
//                         Q[c,j] = sum_a A[i,a,c] P[a,j]          (i = j/M)
//                         Y[c,t] = sum_j Q[c,j] T[j,t] (+ bias)
//   PHM  (M = q, L = W):  P[a,(i,t)] = sum_s X[a,s] W[i,s,t]
//                         Y[c,t] = sum_i sum_a A[i,a,c] P[a,(i,t)] (+ bias)
//
// The backward recomputes P (and Q) from the tile of X, then with the tile
// of DY: dQ = DY*T^T (LPHM; dQ[c,(i,t)] = DY[c,t] for PHM), dP[a,j] =
// sum_c A[i,a,c] dQ[c,j], DX[a,s] = sum_j dP[a,j] L(s,j), and the parameter
// gradients dL(s,j) += sum_a dP[a,j] X[a,s], dT[j,t] += sum_c Q[c,j] DY[c,t],
// dA[i,a,c] += sum_m P[a,(i,m)] dQ[c,(i,m)], dBias += column sums of DY.
// Parameter gradients are summed over the tiles a block walks into that
// block's slice of a scratch array `part` (each element owned by one thread:
// no atomics), and phm_reduce adds the slices of all blocks, in block order,
// to the gradients (deterministic).
//
// Every loop is bounds-checked; offsets that can exceed 2^31 are long long;
// __syncthreads() is only ever reached by all threads of a block (the tile
// loops depend on blockIdx only, the branches around them on kernel
// arguments or template parameters).

// kron_sum writes H of [n*p, n*q] from A and W.
extern "C" __global__ void kron_sum(float* __restrict__ H, const float* __restrict__ A,
                                    const float* __restrict__ W, int n, int p, int q)
{
    const long long out = (long long)n * q;
    const long long total = (long long)n * p * out;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const long long row = idx / out;
        const int col = (int)(idx - row * out);
        const int a = (int)(row / p), s = (int)(row - (long long)a * p);
        const int c = col / q, t = col - c * q;
        float acc = 0.f;
        for (int i = 0; i < n; i++) {
            acc += A[(i * n + a) * n + c] * W[((long long)i * p + s) * q + t];
        }
        H[idx] = acc;
    }
}

// kron_dw accumulates DW[i,s,t] += sum_{a,c} A[i,a,c] * DH[a*p+s, c*q+t].
extern "C" __global__ void kron_dw(float* __restrict__ DW, const float* __restrict__ A,
                                   const float* __restrict__ DH, int n, int p, int q)
{
    const long long out = (long long)n * q;
    const long long pq = (long long)p * q;
    const long long total = (long long)n * pq;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const int i = (int)(idx / pq);
        const long long st = idx - (long long)i * pq;
        const int s = (int)(st / q), t = (int)(st - (long long)s * q);
        float acc = 0.f;
        for (int a = 0; a < n; a++) {
            const float* dh = DH + ((long long)a * p + s) * out + t;
            const float* ar = A + (i * n + a) * n;
            for (int c = 0; c < n; c++) {
                acc += ar[c] * dh[(long long)c * q];
            }
        }
        DW[idx] += acc;
    }
}

// blockSum returns the sum of v over the block (blockDim.x a multiple of 32,
// at most 1024) to every thread. It synchronises the block: call it from all
// threads.
__device__ float blockSum(float v)
{
    __shared__ float red[32];
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads(); // red may still be read by a previous call
    if (lane == 0) {
        red[warp] = v;
    }
    __syncthreads();
    const int nw = (blockDim.x + 31) >> 5;
    v = lane < nw ? red[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// kron_da accumulates DA[i,a,c] += sum_{s,t} DH[a*p+s, c*q+t] * W[i,s,t]:
// one block per element of DA (grid-stride), the block reducing p*q
// products. blockDim.x must be a multiple of 32.
extern "C" __global__ void kron_da(float* __restrict__ DA, const float* __restrict__ W,
                                   const float* __restrict__ DH, int n, int p, int q)
{
    const long long out = (long long)n * q;
    const long long pq = (long long)p * q;
    const int n3 = n * n * n;
    for (int e = blockIdx.x; e < n3; e += gridDim.x) {
        const int i = e / (n * n), a = (e / n) % n, c = e % n;
        const float* w = W + (long long)i * pq;
        float acc = 0.f;
        for (long long st = threadIdx.x; st < pq; st += blockDim.x) {
            const int s = (int)(st / q), t = (int)(st - (long long)s * q);
            acc += DH[((long long)a * p + s) * out + (long long)c * q + t] * w[st];
        }
        acc = blockSum(acc);
        if (threadIdx.x == 0) {
            DA[e] += acc;
        }
    }
}

// phm_reduce adds dst[e] += sum_{b<blocks} part[b*stride + off + e] for e in
// [0, count): the per-block partial gradients of phm_bwd_*, in block order.
extern "C" __global__ void phm_reduce(float* __restrict__ dst, const float* __restrict__ part,
                                      int blocks, long long stride, long long off, int count)
{
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < count; e += gridDim.x * blockDim.x) {
        float acc = 0.f;
        for (int b = 0; b < blocks; b++) {
            acc += part[(long long)b * stride + off + e];
        }
        dst[e] += acc;
    }
}

// Shared-memory layout of the fused kernels, in floats, computed on the host
// (cuda/kron_phm.go) and passed in: offA (n^3 floats of A when stageA),
// offL (p*LJ floats of L transposed to [s][j], row stride LJ, when stageL),
// then per tile of R rows: offX (R*n rows of X segments, stride ps), offDY
// (R*n rows of DY segments, stride qs; backward), offP, offQ, offDQ, offDP
// (R*n*J each, when needed). ps and qs are odd (p or p+1, q or q+1) so that
// threads reading different segments at the same position hit different
// banks.

struct PHMShape {
    int n, p, q, M, J, In, Out;
};

// lget returns L(s, j) from shared memory when staged, else from global
// memory.
__device__ __forceinline__ float lget(const PHMShape& d, const float* __restrict__ Lg,
                                      const float* Ls, int LJ, bool stageL, int s, int j)
{
    if (stageL) {
        return Ls[s * LJ + j];
    }
    const int i = j / d.M, m = j - i * d.M;
    return Lg[((long long)i * d.p + s) * d.M + m];
}

// stageWeights copies A and L into shared memory when asked and returns the
// pointer to read A from. It ends with __syncthreads().
__device__ const float* stageWeights(const PHMShape& d, float* sm, const float* __restrict__ A,
                                     const float* __restrict__ Lg, int stageA, int stageL,
                                     int offA, int offL, int LJ)
{
    const int tid = threadIdx.x, nt = blockDim.x;
    const float* As = A;
    if (stageA) {
        const int n3 = d.n * d.n * d.n;
        for (int e = tid; e < n3; e += nt) {
            sm[offA + e] = A[e];
        }
        As = sm + offA;
    }
    if (stageL) {
        const int total = d.p * d.J;
        for (int e = tid; e < total; e += nt) {
            const int s = e / d.J, j = e - s * d.J;
            sm[offL + s * LJ + j] = lget(d, Lg, nullptr, LJ, false, s, j);
        }
    }
    __syncthreads();
    return As;
}

// Split2 spreads a (rows × width) loop over the block: thread = (row group,
// column), columns outer so that divisions by the segment width happen once
// per column, rows inner; consecutive threads take consecutive columns
// (coalesced), and narrow widths still use every thread.
struct Split2 {
    int col0, colStep, row0, rowStep;
    bool active;
};

__device__ __forceinline__ Split2 split2(int width)
{
    const int nt = blockDim.x;
    const int lanes = width < nt ? width : nt;
    const int groups = nt / lanes;
    const int rg = threadIdx.x / lanes;
    Split2 sp;
    sp.col0 = threadIdx.x - rg * lanes;
    sp.colStep = lanes;
    sp.row0 = rg;
    sp.rowStep = groups;
    sp.active = rg < groups;
    return sp;
}

// loadSegments copies rows [row0, row0+nr) of the rows×(n*w) matrix G into
// shared memory as R*n segments of w floats with stride ws (rows past nr are
// zero).
__device__ __forceinline__ void loadSegments(float* dst, const float* __restrict__ G, long long row0,
                                             int nr, int R, int n, int w, int ws)
{
    const int width = n * w;
    const Split2 sp = split2(width);
    if (!sp.active) {
        return;
    }
    for (int col = sp.col0; col < width; col += sp.colStep) {
        const int a = col / w, s = col - a * w;
        const float* g = G + row0 * width + col;
        float* d = dst + a * ws + s;
#pragma unroll 4
        for (int r = sp.row0; r < R; r += sp.rowStep) {
            d[r * n * ws] = r < nr ? g[(long long)r * width] : 0.f;
        }
    }
}

// computeP writes P[(r*n+a)*J + j] = sum_s X[r,a,s] L(s,j) for the tile.
__device__ __forceinline__ void computeP(const PHMShape& d, float* Ps, const float* Xs, int ps,
                                         const float* __restrict__ Lg, const float* Ls, int LJ,
                                         bool stageL, int R)
{
    const int total = R * d.n * d.J;
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        const int ra = e / d.J, j = e - ra * d.J;
        const float* xr = Xs + ra * ps;
        float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f; // independent chains
        int s = 0;
        if (stageL) {
            const float* lp = Ls + j;
            for (; s + 4 <= d.p; s += 4) {
                a0 += xr[s] * lp[s * LJ];
                a1 += xr[s + 1] * lp[(s + 1) * LJ];
                a2 += xr[s + 2] * lp[(s + 2) * LJ];
                a3 += xr[s + 3] * lp[(s + 3) * LJ];
            }
            for (; s < d.p; s++) {
                a0 += xr[s] * lp[s * LJ];
            }
        } else {
            const int i = j / d.M, m = j - i * d.M;
            const float* lp = Lg + (long long)i * d.p * d.M + m;
            for (; s + 4 <= d.p; s += 4) {
                a0 += xr[s] * lp[(long long)s * d.M];
                a1 += xr[s + 1] * lp[(long long)(s + 1) * d.M];
                a2 += xr[s + 2] * lp[(long long)(s + 2) * d.M];
                a3 += xr[s + 3] * lp[(long long)(s + 3) * d.M];
            }
            for (; s < d.p; s++) {
                a0 += xr[s] * lp[(long long)s * d.M];
            }
        }
        Ps[e] = (a0 + a1) + (a2 + a3);
    }
}

// computeMix writes Q[(r*n+c)*J + j] = sum_a A[i,a,c] P[(r*n+a)*J + j],
// i = j/M, for the tile.
__device__ __forceinline__ void computeMix(const PHMShape& d, float* Qs, const float* Ps,
                                           const float* As, int R)
{
    const int n = d.n, J = d.J;
    const int total = R * n * J;
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        const int rc = e / J, j = e - rc * J;
        const int r = rc / n, c = rc - r * n, i = j / d.M;
        const float* pr = Ps + r * n * J + j;
        const float* ar = As + i * n * n + c;
        float acc = 0.f;
        for (int a = 0; a < n; a++) {
            acc += ar[a * n] * pr[a * J];
        }
        Qs[e] = acc;
    }
}

template <bool LR>
__device__ void phmForward(float* __restrict__ Y, const float* __restrict__ X, const float* __restrict__ A,
                           const float* __restrict__ Lg, const float* __restrict__ T,
                           const float* __restrict__ bias, long long rows, int n, int p, int q, int M,
                           int R, int stageA, int stageL, int ps, int LJ, int offA, int offL, int offX,
                           int offP, int offQ)
{
    extern __shared__ float sm[];
    PHMShape d;
    d.n = n; d.p = p; d.q = q; d.M = M; d.J = n * M; d.In = n * p; d.Out = n * q;
    const float* As = stageWeights(d, sm, A, Lg, stageA, stageL, offA, offL, LJ);
    const float* Ls = sm + offL;
    float* Xs = sm + offX;
    float* Ps = sm + offP;
    float* Qs = sm + offQ;
    const long long tiles = (rows + R - 1) / R;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const long long row0 = tile * R;
        const int nr = (int)min((long long)R, rows - row0);
        loadSegments(Xs, X, row0, nr, R, n, p, ps);
        __syncthreads();
        computeP(d, Ps, Xs, ps, Lg, Ls, LJ, stageL != 0, R);
        __syncthreads();
        if (LR) {
            computeMix(d, Qs, Ps, As, R);
            __syncthreads();
        }
        const Split2 sp = split2(d.Out);
        for (int o = sp.col0; sp.active && o < d.Out; o += sp.colStep) {
            const int c = o / q, t = o - c * q;
            const float b0 = bias != nullptr ? bias[o] : 0.f;
            for (int r = sp.row0; r < nr; r += sp.rowStep) {
                float acc = b0;
                if (LR) {
                    const float* qr = Qs + (r * n + c) * d.J;
                    for (int j = 0; j < d.J; j++) {
                        acc += qr[j] * T[(long long)j * q + t];
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        const float* pr = Ps + r * n * d.J + i * q + t;
                        const float* ar = As + i * n * n + c;
                        for (int a = 0; a < n; a++) {
                            acc += ar[a * n] * pr[a * d.J];
                        }
                    }
                }
                Y[(row0 + r) * d.Out + o] = acc;
            }
        }
        __syncthreads(); // the next tile overwrites Xs, Ps, Qs
    }
}

// phm_fwd_lr is the fused LPHM forward (L = S, M = r, T used).
extern "C" __global__ void __launch_bounds__(256)
phm_fwd_lr(float* Y, const float* X, const float* A, const float* S, const float* T, const float* bias,
           long long rows, int n, int p, int q, int r, int R, int stageA, int stageL, int ps, int LJ,
           int offA, int offL, int offX, int offP, int offQ)
{
    phmForward<true>(Y, X, A, S, T, bias, rows, n, p, q, r, R, stageA, stageL, ps, LJ, offA, offL, offX,
                     offP, offQ);
}

// phm_fwd_full is the fused full-rank PHM forward (L = W, M = q).
extern "C" __global__ void __launch_bounds__(256)
phm_fwd_full(float* Y, const float* X, const float* A, const float* W, const float* bias, long long rows,
             int n, int p, int q, int R, int stageA, int stageL, int ps, int LJ, int offA, int offL,
             int offX, int offP)
{
    phmForward<false>(Y, X, A, W, nullptr, bias, rows, n, p, q, q, R, stageA, stageL, ps, LJ, offA, offL,
                      offX, offP, offP);
}

template <bool LR>
__device__ void phmBackward(float* __restrict__ DX, float* __restrict__ part, const float* __restrict__ X,
                            const float* __restrict__ DY, const float* __restrict__ A,
                            const float* __restrict__ Lg, const float* __restrict__ T, long long rows,
                            int n, int p, int q, int M, int R, int stageA, int stageL, int ps, int qs,
                            int LJ, int offA, int offL, int offX, int offDY, int offP, int offQ, int offDQ,
                            int offDP, long long ptot, int oDL, int oDT, int oDA, int oDB)
{
    extern __shared__ float sm[];
    PHMShape d;
    d.n = n; d.p = p; d.q = q; d.M = M; d.J = n * M; d.In = n * p; d.Out = n * q;
    const int J = d.J;
    const float* As = stageWeights(d, sm, A, Lg, stageA, stageL, offA, offL, LJ);
    const float* Ls = sm + offL;
    float* Xs = sm + offX;
    float* DYs = sm + offDY;
    float* Ps = sm + offP;
    float* Qs = sm + offQ;
    float* dQs = sm + offDQ;
    float* dPs = sm + offDP;
    float* pb = part + (long long)blockIdx.x * ptot;
    const bool needP = oDA >= 0 || (LR && oDT >= 0);
    const bool needX = needP || oDL >= 0;
    const bool needDP = oDL >= 0 || DX != nullptr;
    const bool needDQ = LR && (needDP || oDA >= 0);
    const int tid = threadIdx.x, nt = blockDim.x;
    const long long tiles = (rows + R - 1) / R;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const long long row0 = tile * R;
        const int nr = (int)min((long long)R, rows - row0);
        if (needX) {
            loadSegments(Xs, X, row0, nr, R, n, p, ps);
        }
        loadSegments(DYs, DY, row0, nr, R, n, q, qs);
        __syncthreads();
        if (needP) {
            computeP(d, Ps, Xs, ps, Lg, Ls, LJ, stageL != 0, R);
        }
        if (needDQ) { // dQ[r,c,j] = sum_t DY[r,c,t] T[j,t]
            const int total = R * n * J;
            for (int e = tid; e < total; e += nt) {
                const int rc = e / J, j = e - rc * J;
                const float* dy = DYs + rc * qs;
                const float* tr = T + (long long)j * q;
                float acc = 0.f;
                for (int t = 0; t < q; t++) {
                    acc += dy[t] * tr[t];
                }
                dQs[e] = acc;
            }
        }
        __syncthreads();
        if (LR && oDT >= 0) {
            computeMix(d, Qs, Ps, As, R);
        }
        if (needDP) { // dP[r,a,j] = sum_c A[i,a,c] dQ[r,c,j]
            const int total = R * n * J;
            for (int e = tid; e < total; e += nt) {
                const int ra = e / J, j = e - ra * J;
                const int r = ra / n, a = ra - r * n, i = j / M;
                const float* ar = As + (i * n + a) * n;
                float acc = 0.f;
                if (LR) {
                    const float* dq = dQs + r * n * J + j;
                    for (int c = 0; c < n; c++) {
                        acc += ar[c] * dq[c * J];
                    }
                } else {
                    const float* dy = DYs + r * n * qs + (j - i * M);
                    for (int c = 0; c < n; c++) {
                        acc += ar[c] * dy[c * qs];
                    }
                }
                dPs[e] = acc;
            }
        }
        __syncthreads();
        if (DX != nullptr) { // DX[r,a,s] = sum_j dP[r,a,j] L(s,j)
            const Split2 sp = split2(d.In);
            for (int col = sp.col0; sp.active && col < d.In; col += sp.colStep) {
                const int a = col / p, s = col - a * p;
                for (int r = sp.row0; r < nr; r += sp.rowStep) {
                    const float* dp = dPs + (r * n + a) * J;
                    float acc = 0.f;
                    for (int j = 0; j < J; j++) {
                        acc += dp[j] * lget(d, Lg, Ls, LJ, stageL != 0, s, j);
                    }
                    DX[(row0 + r) * d.In + col] = acc;
                }
            }
        }
        if (oDL >= 0) { // dL[i,s,m] += sum_{r,a} dP[r,a,(i,m)] X[r,a,s]
            const int pm = p * M;
            const int total = n * pm;
            for (int e = tid; e < total; e += nt) {
                const int i = e / pm, sm_ = e - i * pm;
                const int s = sm_ / M, m = sm_ - s * M;
                const int j = i * M + m;
                float acc = 0.f;
                for (int ra = 0; ra < nr * n; ra++) {
                    acc += dPs[ra * J + j] * Xs[ra * ps + s];
                }
                pb[oDL + e] += acc;
            }
        }
        if (LR && oDT >= 0) { // dT[j,t] += sum_{r,c} Q[r,c,j] DY[r,c,t]
            const int total = J * q;
            for (int e = tid; e < total; e += nt) {
                const int j = e / q, t = e - j * q;
                float acc = 0.f;
                for (int rc = 0; rc < nr * n; rc++) {
                    acc += Qs[rc * J + j] * DYs[rc * qs + t];
                }
                pb[oDT + e] += acc;
            }
        }
        if (oDA >= 0) { // dA[i,a,c] += sum_{r,m} P[r,a,(i,m)] dQ[r,c,(i,m)]
            const int total = n * n * n;
            for (int e = tid; e < total; e += nt) {
                const int i = e / (n * n), a = (e / n) % n, c = e % n;
                float acc = 0.f;
                for (int r = 0; r < nr; r++) {
                    const float* pr = Ps + (r * n + a) * J + i * M;
                    if (LR) {
                        const float* dq = dQs + (r * n + c) * J + i * M;
                        for (int m = 0; m < M; m++) {
                            acc += pr[m] * dq[m];
                        }
                    } else {
                        const float* dy = DYs + (r * n + c) * qs;
                        for (int m = 0; m < M; m++) {
                            acc += pr[m] * dy[m];
                        }
                    }
                }
                pb[oDA + e] += acc;
            }
        }
        if (oDB >= 0) { // dBias[c,t] += sum_r DY[r,c,t]
            for (int e = tid; e < d.Out; e += nt) {
                const int c = e / q, t = e - c * q;
                float acc = 0.f;
                for (int r = 0; r < nr; r++) {
                    acc += DYs[(r * n + c) * qs + t];
                }
                pb[oDB + e] += acc;
            }
        }
        __syncthreads(); // the next tile overwrites the tile buffers
    }
}

// phm_bwd_lr is the fused LPHM backward: DX (when not null) and the
// per-block partial gradients of S (oDL), T (oDT), A (oDA) and the bias
// (oDB) into part (an offset < 0 skips a gradient).
extern "C" __global__ void __launch_bounds__(256)
phm_bwd_lr(float* DX, float* part, const float* X, const float* DY, const float* A, const float* S,
           const float* T, long long rows, int n, int p, int q, int r, int R, int stageA, int stageL, int ps,
           int qs, int LJ, int offA, int offL, int offX, int offDY, int offP, int offQ, int offDQ, int offDP,
           long long ptot, int oDL, int oDT, int oDA, int oDB)
{
    phmBackward<true>(DX, part, X, DY, A, S, T, rows, n, p, q, r, R, stageA, stageL, ps, qs, LJ, offA, offL,
                      offX, offDY, offP, offQ, offDQ, offDP, ptot, oDL, oDT, oDA, oDB);
}

// phm_bwd_full is the fused full-rank PHM backward: DX and the partial
// gradients of W (oDL), A (oDA) and the bias (oDB).
extern "C" __global__ void __launch_bounds__(256)
phm_bwd_full(float* DX, float* part, const float* X, const float* DY, const float* A, const float* W,
             long long rows, int n, int p, int q, int R, int stageA, int stageL, int ps, int qs, int LJ,
             int offA, int offL, int offX, int offDY, int offP, int offDP, long long ptot, int oDL, int oDA,
             int oDB)
{
    phmBackward<false>(DX, part, X, DY, A, W, nullptr, rows, n, p, q, q, R, stageA, stageL, ps, qs, LJ, offA,
                       offL, offX, offDY, offP, offP, offP, offDP, ptot, oDL, -1, oDA, oDB);
}
