package cpu

import "math"

// The fused full-rank PHM mixes the N blocks of a row with the rule A
// (Σ_a A[i,a,c]·…) on either side of the product by W. It does so in one of
// three ways, chosen per layer shape by choosePHMMix:
//
//   - phmMixRows (kron_phm.go): Z[(c,i),s] = Σ_a A[i,a,c]·X[a,s] per row
//     with the skinny kernels, N²·In multiply-adds per row on sub-rows
//     p = In/N wide; then Y = Z_all·W.
//   - phmMixInGemm: the same Z as one GEMM per block of rows, Z = X·G_in
//     with the rule expanded to G_in[(a,s'),(c,i,s)] = A[i,a,c]·δ(s,s')
//     ([In, N·In], N·In² per row): a factor p more FLOPs than phmMixRows
//     but at the GEMM's rate, which wins when p is a few floats (24→768
//     at N = 12: p = 2).
//   - phmMixOutGemm: multiply by W first, U = X_sub·[W_1|…|W_N] (X_sub the
//     rows' N sub-rows of p, U of [N, N·q] per row), then mix the output
//     side with one GEMM, Y = U·G_out, G_out[(a,i,t'),(c,t)] =
//     A[i,a,c]·δ(t,t') ([N·Out, Out], N·Out² per row). When Out is much
//     smaller than In (768→24) this replaces N²·In per row by N·Out².
//
// Every path does the dense layer's In·Out per row for the product by W.

// phmGemmBlock is the least rows per block of the GEMM mixings: each block
// packs G and W again, and at 32 rows that packing was a fifth of the time
// (768→24, N = 12).
const phmGemmBlock = 128

// phmGemmBlocks is the block (phmGemmBlock rows or all of them) and the
// number of workers of a GEMM-mixed fused PHM over rows rows.
func phmGemmBlocks(threads, rows int) (blk, workers int) {
	blk = min(phmGemmBlock, rows)
	return blk, max(1, min(maxThreads(threads), (rows+blk-1)/blk))
}

// phmMix is how the fused full-rank PHM does its N×N mixing.
type phmMix uint8

const (
	phmMixRows    phmMix = iota // per row with the skinny kernels
	phmMixInGemm                // input side, one GEMM by G_in
	phmMixOutGemm               // output side, one GEMM by G_out
)

// phmFusedCost estimates the seconds per row of one forward and one
// backward pass of a fused PHM layer in → out with N = n and mixing m: the
// product by W (forward, again in the backward, dW, and dZ or dX) and the
// mixing, apart, since the product overlaps the memory traffic and the
// mixing does not (PHMCost).
func phmFusedCost(m phmMix, in, out, n int) (gemm, mix float64) {
	I, O, N := float64(in), float64(out), float64(n)
	const big = 1 << 12 // the many rows of a block, times N
	rate := kronSgemmRate(big, out/n, in)
	if out/n <= phmSkinny {
		rate = kronCostKron
	}
	products := 3.0 // Y = Z·W, dW, dZ
	switch m {
	case phmMixInGemm: // forward, again in the backward, dG, dX
		mix = 4 * 2 * N * I * I / kronCostSgemm
	case phmMixOutGemm: // forward, dU, dG
		// U, again in the backward, dWc and dX. These products are thin
		// (p deep, Out wide) and repack Wc per block: measured at about
		// half the SGEMM's thin-product rate.
		products = 4
		rate = kronSgemmRate(big, out, in/n) / 2
		mix = 3 * 2 * N * O * O / kronCostSgemm
	default: // forward, again in the backward, dA, dX
		mix = 4 * 2 * N * N * I / kronWidthRate(in/n)
	}
	return products * 2 * I * O / rate, mix
}

// choosePHMMix is the cheapest mixing of a fused PHM layer under
// phmFusedCost.
func choosePHMMix(in, out, n int) phmMix {
	best, cost := phmMixRows, math.Inf(1)
	for _, m := range []phmMix{phmMixRows, phmMixInGemm, phmMixOutGemm} {
		if g, x := phmFusedCost(m, in, out, n); g+x < cost {
			best, cost = m, g+x
		}
	}
	return best
}

// phmRuleIn expands A to G_in of shape [In, N·In]:
// G_in[a·p+s, c·In+i·p+s] = A[i,a,c], so that X·G_in is the mixed Z of
// phmFusedIn.
func phmRuleIn(n, in int, a []float32) []float32 {
	pp := in / n
	g := make([]float32, in*n*in)
	for i := 0; i < n; i++ {
		for ai := 0; ai < n; ai++ {
			for c := 0; c < n; c++ {
				v := a[(i*n+ai)*n+c]
				for s := 0; s < pp; s++ {
					g[(ai*pp+s)*n*in+c*in+i*pp+s] = v
				}
			}
		}
	}
	return g
}

// phmRuleInGrad adds the gradient of A from dG, the gradient of G_in.
func phmRuleInGrad(n, in int, dg, da []float32) {
	pp := in / n
	for i := 0; i < n; i++ {
		for ai := 0; ai < n; ai++ {
			for c := 0; c < n; c++ {
				var sum float32
				for s := 0; s < pp; s++ {
					sum += dg[(ai*pp+s)*n*in+c*in+i*pp+s]
				}
				da[(i*n+ai)*n+c] += sum
			}
		}
	}
}

// phmFusedOut is the fused full-rank PHM with the mixing on the output
// side (phmMixOutGemm): per block of rows U = X_sub·Wc, Y = U·G_out + b;
// the backward recomputes U for dA and runs dU = dY·G_outᵀ,
// dG_out = Uᵀ·dY, dWc = X_subᵀ·dU_sub and dX_sub = dU_sub·Wcᵀ, all with
// the packed SGEMM on one core per worker.
func (x kronCtx) phmFusedOut(p *PHMArgs, backward bool) {
	n, in, out := p.N, p.In, p.Out
	pp, q, no := in/n, out/n, n*out
	wc := make([]float32, pp*out) // wc[s·Out+i·q+t] = W[i,s,t]
	for i := 0; i < n; i++ {
		for s := 0; s < pp; s++ {
			copy(wc[s*out+i*q:s*out+(i+1)*q], p.W[(i*pp+s)*q:(i*pp+s+1)*q])
		}
	}
	g := make([]float32, no*out) // g[(a·Out+i·q+t)·Out+c·q+t] = A[i,a,c]
	for i := 0; i < n; i++ {
		for a := 0; a < n; a++ {
			for c := 0; c < n; c++ {
				v := p.A[(i*n+a)*n+c]
				for t := 0; t < q; t++ {
					g[(a*out+i*q+t)*out+c*q+t] = v
				}
			}
		}
	}
	blk, workers := x.rowBlock(p.Rows, 2*no+in+out)
	if blk < phmGemmBlock { // amortise the packing of G_out and Wc
		blk, workers = phmGemmBlocks(x.threads, p.Rows)
	}
	usize := blk * no
	if !backward {
		kronForBlocks(p.Rows, blk, workers, func(_, lo, hi int) {
			buf := kronGetScratch(usize)
			defer kronPutScratch(buf)
			rows, u := hi-lo, *buf
			sgemm(x.simd, 1, false, false, rows*n, out, pp, 1, p.X[lo*in:hi*in], pp, wc, out, 0, u, out)
			yb := p.Y[lo*out : hi*out]
			kronFillBias(yb, p.Bias, p.Accumulate)
			sgemm(x.simd, 1, false, false, rows, out, no, 1, u, no, g, out, 1, yb, out)
		})
		return
	}
	type partial struct{ dwc, dg, db []float32 }
	parts := make([]partial, workers)
	for w := range parts {
		if p.DW != nil {
			parts[w].dwc = make([]float32, pp*out)
		}
		if p.DA != nil {
			parts[w].dg = make([]float32, no*out)
		}
		if p.DBias != nil {
			parts[w].db = make([]float32, out)
		}
	}
	kronForBlocks(p.Rows, blk, workers, func(w, lo, hi int) {
		buf := kronGetScratch(2 * usize)
		defer kronPutScratch(buf)
		rows := hi - lo
		u, du := (*buf)[:usize], (*buf)[usize:]
		xb, dyb := p.X[lo*in:hi*in], p.DY[lo*out:hi*out]
		pt := &parts[w]
		if pt.db != nil {
			kronSumRows(x.simd, pt.db, dyb)
		}
		if pt.dg != nil { // dG_out += Uᵀ·dY
			sgemm(x.simd, 1, false, false, rows*n, out, pp, 1, xb, pp, wc, out, 0, u, out)
			sgemm(x.simd, 1, true, false, no, out, rows, 1, u, no, dyb, out, 1, pt.dg, out)
		}
		if pt.dwc == nil && p.DX == nil {
			return
		}
		sgemm(x.simd, 1, false, true, rows, no, out, 1, dyb, out, g, out, 0, du, no)
		if pt.dwc != nil { // dWc += X_subᵀ·dU_sub
			sgemm(x.simd, 1, true, false, pp, out, rows*n, 1, xb, pp, du, out, 1, pt.dwc, out)
		}
		if p.DX != nil { // dX_sub = dU_sub·Wcᵀ
			sgemm(x.simd, 1, false, true, rows*n, pp, out, 1, du, out, wc, out, p.dxBeta(), p.DX[lo*in:hi*in], pp)
		}
	})
	for _, pt := range parts {
		if pt.dwc != nil {
			for i := 0; i < n; i++ {
				for s := 0; s < pp; s++ {
					dst, src := p.DW[(i*pp+s)*q:(i*pp+s+1)*q], pt.dwc[s*out+i*q:s*out+(i+1)*q]
					for t, v := range src {
						dst[t] += v
					}
				}
			}
		}
		if pt.dg != nil {
			for i := 0; i < n; i++ {
				for a := 0; a < n; a++ {
					for c := 0; c < n; c++ {
						var sum float32
						for t := 0; t < q; t++ {
							sum += pt.dg[(a*out+i*q+t)*out+c*q+t]
						}
						p.DA[(i*n+a)*n+c] += sum
					}
				}
			}
		}
		if pt.db != nil {
			for j, v := range pt.db {
				p.DBias[j] += v
			}
		}
	}
}
