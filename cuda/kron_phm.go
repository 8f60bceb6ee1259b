//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// PHM and LPHM layers on the device. PHMFused runs phm_fwd_* / phm_bwd_*
// (kernels/kron.cu): tiles of rows in shared memory, H never built, the
// parameter gradients summed per block into a scratch array and added by
// phm_reduce. PHMMaterialize builds H with KronSum and multiplies with
// cuBLAS. PHMAuto picks by the cost model of kron_cost.go. A fused layer
// whose one row does not fit in shared memory (In or Out in the tens of
// thousands) runs materialised.

// phmPtrs are the device addresses of a PHMParams (0 for nil buffers).
type phmPtrs struct {
	x, y, a, w, s, t, bias, dy, dx, da, dw, ds, dt, dbias uint64
}

// phmArgs validates p and resolves its buffers. Buffers the layer does not
// use (W of an LPHM layer, S and T of a full one, the forward's or the
// backward's) are dropped first, as the CPU backend ignores them.
func (b *Backend) phmArgs(p kernels.PHMParams, backward bool) (kernels.PHMParams, phmPtrs, error) {
	op := "phm"
	if backward {
		op = "phm backward"
		p.Y = nil
	} else {
		p.DY, p.DX, p.DA, p.DW, p.DS, p.DT, p.DBias = nil, nil, nil, nil, nil, nil, nil
	}
	if p.Rank > 0 {
		p.W, p.DW = nil, nil
	} else {
		p.S, p.T, p.DS, p.DT = nil, nil, nil, nil
	}
	var k phmPtrs
	if err := p.Validate(backward); err != nil {
		return p, k, err
	}
	err := b.kronResolve(op, kronSlot{"X", p.X, &k.x}, kronSlot{"Y", p.Y, &k.y}, kronSlot{"A", p.A, &k.a},
		kronSlot{"W", p.W, &k.w}, kronSlot{"S", p.S, &k.s}, kronSlot{"T", p.T, &k.t}, kronSlot{"Bias", p.Bias, &k.bias},
		kronSlot{"DY", p.DY, &k.dy}, kronSlot{"DX", p.DX, &k.dx}, kronSlot{"DA", p.DA, &k.da}, kronSlot{"DW", p.DW, &k.dw},
		kronSlot{"DS", p.DS, &k.ds}, kronSlot{"DT", p.DT, &k.dt}, kronSlot{"DBias", p.DBias, &k.dbias})
	return p, k, err
}

// PHM computes Y = X·H + Bias, fused or through a materialised H as p.Algo
// (or, for PHMAuto, the cost model) says.
func (b *Backend) PHM(p kernels.PHMParams) error {
	if p.Accumulate {
		return b.phmAccumulate(p, false)
	}
	p, k, err := b.phmArgs(p, false)
	if err != nil || p.Rows == 0 {
		return err
	}
	if b.phmAlgo(p) == kernels.PHMFused {
		if pl, ok := b.planPHM(p, false); ok {
			return b.phmFusedForward(p, k, pl)
		}
	}
	return b.phmMaterialize(p, k, false)
}

// PHMBackward overwrites DX (when not nil; adds to it with p.Accumulate)
// and accumulates DA, DW (or DS and DT) and DBias (those not nil).
func (b *Backend) PHMBackward(p kernels.PHMParams) error {
	if p.Accumulate && p.DX != nil {
		return b.phmAccumulate(p, true)
	}
	p, k, err := b.phmArgs(p, true)
	if err != nil || p.Rows == 0 {
		return err
	}
	if p.DX == nil && p.DA == nil && p.DW == nil && p.DS == nil && p.DT == nil && p.DBias == nil {
		return nil
	}
	if b.phmAlgo(p) == kernels.PHMFused {
		if pl, ok := b.planPHM(p, true); ok {
			return b.phmFusedBackward(p, k, pl)
		}
	}
	return b.phmMaterialize(p, k, true)
}

// phmAccumulate runs PHM (or PHMBackward) with Accumulate as the plain
// call into a temporary and an add: Y += X·H + Bias (DX += the input
// gradient). Not fused on this backend.
func (b *Backend) phmAccumulate(p kernels.PHMParams, backward bool) (err error) {
	if err := p.Validate(backward); err != nil {
		return err
	}
	dst := p.Y
	if backward {
		dst = p.DX
	}
	tmp, err := b.Alloc(kernels.Float32, dst.Len())
	if err != nil {
		return err
	}
	defer func() {
		if ferr := b.Free(tmp); err == nil {
			err = ferr
		}
	}()
	q := p
	q.Accumulate = false
	if backward {
		q.DX = tmp
		err = b.PHMBackward(q)
	} else {
		q.Y = tmp
		err = b.PHM(q)
	}
	if err != nil {
		return err
	}
	return b.Binary(kernels.Add, dst, dst, tmp)
}

// phmAlgo resolves PHMAuto with the cost model.
func (b *Backend) phmAlgo(p kernels.PHMParams) kernels.PHMAlgo {
	if p.Algo != kernels.PHMAuto {
		return p.Algo
	}
	return choosePHM(p.Rows, p.In, p.Out, p.N, p.Rank)
}

// phmMaterialize builds H and applies cuBLAS GEMMs: Y = X·H (+ bias);
// backward DX = DY·Hᵀ, DBias += Σ_rows DY, dH = Xᵀ·DY and KronSumBackward.
func (b *Backend) phmMaterialize(p kernels.PHMParams, k phmPtrs, backward bool) (err error) {
	sc := kronScratch{b: b}
	defer sc.free(&err)
	op := "phm"
	if backward {
		op = "phm backward"
	}
	h, hp, err := sc.alloc(p.In * p.Out)
	if err != nil {
		return fmt.Errorf("%s: H: %w", op, err)
	}
	kp := p.Kron()
	kk := kronPtrs{a: k.a, w: k.w, s: k.s, t: k.t, h: hp, da: k.da, dw: k.dw, ds: k.ds, dt: k.dt}
	if !backward || p.DX != nil {
		if err := b.kronSum(kp, kk); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if !backward {
		if err := b.Gemm(kernels.GemmParams{M: p.Rows, N: p.Out, K: p.In, Alpha: 1, A: p.X, B: h, C: p.Y}); err != nil {
			return fmt.Errorf("%s: Y = X·H: %w", op, err)
		}
		if p.Bias != nil {
			return b.AddBias(p.Y, p.Bias, p.Rows, p.Out)
		}
		return nil
	}
	if p.DX != nil {
		if err := b.Gemm(kernels.GemmParams{TransB: true, M: p.Rows, N: p.In, K: p.Out, Alpha: 1, A: p.DY, B: h, C: p.DX}); err != nil {
			return fmt.Errorf("%s: DX = DY·Hᵀ: %w", op, err)
		}
	}
	if p.DBias != nil {
		if err := b.SumRows(p.DBias, p.DY, p.Rows, p.Out, 1); err != nil {
			return fmt.Errorf("%s: DBias: %w", op, err)
		}
	}
	if p.DA == nil && p.DW == nil && p.DS == nil && p.DT == nil {
		return nil
	}
	// dH = Xᵀ·DY overwrites the scratch of H (queued after its last use).
	if err := b.Gemm(kernels.GemmParams{TransA: true, M: p.In, N: p.Out, K: p.Rows, Alpha: 1, A: p.X, B: p.DY, C: h}); err != nil {
		return fmt.Errorf("%s: dH = Xᵀ·DY: %w", op, err)
	}
	kp.DH, kk.dh, kk.h = h, hp, 0
	return b.kronSumBackward(kp, kk)
}

// phmSmemDefault is the dynamic shared memory a block may use without
// opting in (bytes).
const phmSmemDefault = 48 << 10

// phmMaxTileRows caps the rows of one tile.
const phmMaxTileRows = 32

// phmSmemTarget is the shared memory per block the tiles are sized for
// (bytes): five blocks of 256 threads per SM hide the latency of the tile
// loads. A layer whose tiles would hold fewer than phmMinTileRows rows in it
// opts in to more, up to the device's limit.
const (
	phmSmemTarget  = 40 << 10
	phmMinTileRows = 4
)

// phmStageA and phmStageL are the largest A (n³) and L (p×J) staged in
// shared memory (floats); larger ones are read through the L1 cache.
const (
	phmStageA = 4096
	phmStageL = 16384
)

// phmPlan is the launch configuration of a fused PHM kernel: sizes, rows
// per tile, what is staged in shared memory and the shared-memory layout
// (offsets in floats, see kernels/kron.cu).
type phmPlan struct {
	d              kronDims
	m, j           int // M (r or q) and J = n·M
	rows           int // rows per tile (R)
	stageA, stageL bool
	ps, qs, lj     int
	offA, offL     int
	offX, offDY    int
	offP, offQ     int
	offDQ, offDP   int
	shared         int // bytes
	tiles          int64
}

// kronOdd returns x when it is odd, else x+1: a row stride that spreads
// segments over the shared-memory banks.
func kronOdd(x int) int { return x | 1 }

func kronB2I(v bool) int {
	if v {
		return 1
	}
	return 0
}

// planPHM lays out the fused kernel for p; ok is false when not even one
// row fits in the device's shared memory (the caller then materialises).
func (b *Backend) planPHM(p kernels.PHMParams, backward bool) (phmPlan, bool) {
	d := kronDimsOf(p.In, p.Out, p.N, p.Rank)
	lr := d.r > 0
	m := d.q
	if lr {
		m = d.r
	}
	J := d.n * m
	// 32-bit indices inside the kernels: the parameter gradients and the
	// products below must stay under 2^31.
	if int64(d.n)*int64(d.p)*int64(m) >= 1<<31 || int64(J)*int64(d.q) >= 1<<31 {
		return phmPlan{}, false
	}
	pl := phmPlan{d: d, m: m, j: J, ps: kronOdd(d.p), qs: kronOdd(d.q), lj: kronOdd(J)}
	nj := d.n * J
	var perRow int
	var needX, needDY, needP, needQ, needDQ, needDP bool
	if !backward {
		needX, needP, needQ = true, true, lr
	} else {
		needP = p.DA != nil || (lr && p.DT != nil)
		needQ = lr && p.DT != nil
		needDP = p.DX != nil || p.DW != nil || p.DS != nil
		needDQ = lr && (needDP || p.DA != nil)
		needX = needP || p.DW != nil || p.DS != nil
		needDY = true
	}
	perRow = kronB2I(needX)*d.n*pl.ps + kronB2I(needDY)*d.n*pl.qs + (kronB2I(needP)+kronB2I(needQ)+kronB2I(needDQ)+kronB2I(needDP))*nj
	limit := max(b.maxSharedOptin, phmSmemDefault) / 4
	rcap := max(1, min(phmMaxTileRows, (p.Rows+b.numSMs-1)/max(b.numSMs, 1)))
	n3 := d.n * d.n * d.n
	for _, st := range [][2]bool{{n3 <= phmStageA, d.p*pl.lj <= phmStageL}, {n3 <= phmStageA, false}, {false, false}} {
		pl.stageA, pl.stageL = st[0], st[1]
		fixed := kronB2I(pl.stageA)*n3 + kronB2I(pl.stageL)*d.p*pl.lj
		if fixed >= limit || perRow <= 0 {
			continue
		}
		r := min(rcap, (phmSmemTarget/4-fixed)/perRow)
		if r < min(rcap, phmMinTileRows) {
			r = min(rcap, (limit-fixed)/perRow)
		}
		if r < 1 {
			continue
		}
		pl.rows = r
		off := 0
		take := func(use bool, n int) int {
			if !use {
				return 0
			}
			o := off
			off += n
			return o
		}
		pl.offA = take(pl.stageA, n3)
		pl.offL = take(pl.stageL, d.p*pl.lj)
		pl.offX = take(needX, r*d.n*pl.ps)
		pl.offDY = take(needDY, r*d.n*pl.qs)
		pl.offP = take(needP, r*nj)
		pl.offQ = take(needQ, r*nj)
		pl.offDQ = take(needDQ, r*nj)
		pl.offDP = take(needDP, r*nj)
		pl.shared = off * 4
		pl.tiles = (int64(p.Rows) + int64(r) - 1) / int64(r)
		return pl, true
	}
	return phmPlan{}, false
}

// fusedFn returns the kernel and raises its shared-memory limit when the
// plan needs more than the default.
func (b *Backend) fusedFn(name string, pl phmPlan) (*function, error) {
	f, err := b.fn(kronModule, name)
	if err != nil {
		return nil, err
	}
	if pl.shared > phmSmemDefault {
		if err := f.setMaxDynamicShared(pl.shared); err != nil {
			return nil, fmt.Errorf("%s: %d bytes of shared memory: %w", name, pl.shared, err)
		}
	}
	return f, nil
}

// phmFusedForward runs phm_fwd_lr or phm_fwd_full.
func (b *Backend) phmFusedForward(p kernels.PHMParams, k phmPtrs, pl phmPlan) error {
	d := pl.d
	grid := kronGrid(pl.tiles, 1, b.numSMs*32)
	block := dim3{kronBlock, 1, 1}
	common := []any{int32(pl.rows), int32(kronB2I(pl.stageA)), int32(kronB2I(pl.stageL)), int32(pl.ps), int32(pl.lj),
		int32(pl.offA), int32(pl.offL), int32(pl.offX), int32(pl.offP)}
	var name string
	var args []any
	if d.r > 0 {
		name = "phm_fwd_lr"
		args = append([]any{k.y, k.x, k.a, k.s, k.t, k.bias, int64(p.Rows), int32(d.n), int32(d.p), int32(d.q), int32(d.r)},
			append(common, int32(pl.offQ))...)
	} else {
		name = "phm_fwd_full"
		args = append([]any{k.y, k.x, k.a, k.w, k.bias, int64(p.Rows), int32(d.n), int32(d.p), int32(d.q)}, common...)
	}
	f, err := b.fusedFn(name, pl)
	if err != nil {
		return fmt.Errorf("phm: %w", err)
	}
	if err := b.launch(f, grid, block, pl.shared, args...); err != nil {
		return fmt.Errorf("phm: %s: %w", name, err)
	}
	return nil
}

// phmPartMax bounds the per-block partial gradients (floats) of a fused
// backward: the grid shrinks for layers with many parameters.
const phmPartMax = 1 << 25

// phmFusedBackward runs phm_bwd_lr or phm_bwd_full, then phm_reduce for
// each gradient asked for.
func (b *Backend) phmFusedBackward(p kernels.PHMParams, k phmPtrs, pl phmPlan) (err error) {
	d := pl.d
	lr := d.r > 0
	// Layout of one block's partial gradients: dL (dS or dW), dT, dA, dBias.
	type grad struct {
		dst   uint64
		off   int
		count int
	}
	var grads []grad
	ptot := 0
	add := func(dst uint64, count int) int {
		if dst == 0 {
			return -1
		}
		grads = append(grads, grad{dst, ptot, count})
		ptot += count
		return grads[len(grads)-1].off
	}
	dl := k.dw
	if lr {
		dl = k.ds
	}
	oDL := add(dl, d.n*d.p*pl.m)
	oDT := -1
	if lr {
		oDT = add(k.dt, pl.j*d.q)
	}
	oDA := add(k.da, d.n*d.n*d.n)
	oDB := add(k.dbias, p.Out)

	blocks := min(pl.tiles, int64(8*max(b.numSMs, 1)))
	if ptot > 0 {
		blocks = max(1, min(blocks, int64(phmPartMax/ptot)))
	}
	sc := kronScratch{b: b}
	defer sc.free(&err)
	var part uint64
	if ptot > 0 {
		if _, part, err = sc.alloc(int(blocks) * ptot); err != nil {
			return fmt.Errorf("phm backward: partial gradients: %w", err)
		}
	}
	common := []any{int32(pl.rows), int32(kronB2I(pl.stageA)), int32(kronB2I(pl.stageL)), int32(pl.ps), int32(pl.qs), int32(pl.lj),
		int32(pl.offA), int32(pl.offL), int32(pl.offX), int32(pl.offDY), int32(pl.offP)}
	var name string
	var args []any
	if lr {
		name = "phm_bwd_lr"
		args = append([]any{k.dx, part, k.x, k.dy, k.a, k.s, k.t, int64(p.Rows), int32(d.n), int32(d.p), int32(d.q), int32(d.r)}, common...)
		args = append(args, int32(pl.offQ), int32(pl.offDQ), int32(pl.offDP), int64(ptot), int32(oDL), int32(oDT), int32(oDA), int32(oDB))
	} else {
		name = "phm_bwd_full"
		args = append([]any{k.dx, part, k.x, k.dy, k.a, k.w, int64(p.Rows), int32(d.n), int32(d.p), int32(d.q)}, common...)
		args = append(args, int32(pl.offDP), int64(ptot), int32(oDL), int32(oDA), int32(oDB))
	}
	f, err := b.fusedFn(name, pl)
	if err != nil {
		return fmt.Errorf("phm backward: %w", err)
	}
	if err := b.launch(f, dim3{uint32(blocks), 1, 1}, dim3{kronBlock, 1, 1}, pl.shared, args...); err != nil {
		return fmt.Errorf("phm backward: %s: %w", name, err)
	}
	if len(grads) == 0 {
		return nil
	}
	red, err := b.fn(kronModule, "phm_reduce")
	if err != nil {
		return err
	}
	for _, g := range grads {
		if err := b.launch(red, kronGrid(int64(g.count), kronBlock, b.numSMs*8), dim3{kronBlock, 1, 1}, 0,
			g.dst, part, int32(blocks), int64(ptot), int64(g.off), int32(g.count)); err != nil {
			return fmt.Errorf("phm backward: reduce: %w", err)
		}
	}
	return nil
}
