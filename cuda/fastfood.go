//go:build linux && cgo && !nocuda

package cuda

import (
	"errors"
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// The seeded Fastfood projection on the device (kernels.FastfoodBackend,
// kernels/fastfood.cu): the random state is evaluated from the seed's
// constants inside the kernels, the two Walsh–Hadamard transforms are the
// backend's FWHT, and the m-point transform of the input runs over the span
// of its non-zero entries only. A projection takes five to seven launches,
// none of which moves data to or from the host.

var _ kernels.FastfoodBackend = (*Backend)(nil)

// ffThreads is the block size of the element-wise Fastfood kernels (a
// multiple of 32, as ff_adjoint_out's reduction needs).
const ffThreads = 256

// ffForceScatter overrides the adjoint's choice of scatter kernel for
// tests: 0 chooses by ffSharedScatterBlocks, 1 takes the shared-memory
// kernel whenever m fits, 2 the global-atomics kernel.
var ffForceScatter int

// ffSharedMaxBytes bounds the shared-memory accumulator of the adjoint's
// scatter (m ≤ 8192 floats): several blocks fit on an SM and no opt-in is
// needed.
const ffSharedMaxBytes = 32 << 10

// ffSharedScatterBlocks returns the grid of the shared-memory scatter of L
// elements into m floats, and whether it is the better kernel: each block
// then sums at least 16·m elements before adding its m partial sums to the
// global vector, and there are enough blocks to fill the device.
func (b *Backend) ffSharedScatterBlocks(l, m int) (int, bool) {
	if m*4 > ffSharedMaxBytes {
		return 0, false
	}
	blocks := min(l/(16*m), max(b.numSMs, 1)*8)
	switch ffForceScatter {
	case 1:
		return max(blocks, 1), true
	case 2:
		return 0, false
	}
	return blocks, blocks >= max(b.numSMs, 1)
}

// ffArgs are the resolved device addresses of a Fastfood call.
type ffArgs struct {
	gauss, lanes, x, out, base, alpha, dot, with uint64
}

// ffPrepare validates p, resolves its buffers and returns the scratch
// (p.Scratch, or a new buffer that release frees).
func (b *Backend) ffPrepare(p kernels.FastfoodParams, adjoint bool) (ffArgs, kernels.Buffer, func(*error), error) {
	var a ffArgs
	if err := p.Validate(adjoint); err != nil {
		return a, nil, nil, err
	}
	op := "fastfood"
	if adjoint {
		op = "fastfood adjoint"
	}
	ps, err := b.ptrs(op, p.Gauss, p.Lanes, p.X, p.Out, p.Base, p.Alpha, p.Dot, p.DotWith, p.Scratch)
	if err != nil {
		return a, nil, nil, err
	}
	a = ffArgs{gauss: ps[0], lanes: ps[1], x: ps[2], out: ps[3], base: ps[4], alpha: ps[5], dot: ps[6], with: ps[7]}
	n := p.Seed.ScratchLen()
	if p.Scratch != nil {
		return a, p.Scratch.Slice(0, n), func(*error) {}, nil
	}
	s, err := b.Alloc(kernels.Float32, n)
	if err != nil {
		return a, nil, nil, fmt.Errorf("cuda: %s scratch: %w", op, err)
	}
	release := func(err *error) { *err = errors.Join(*err, b.Free(s)) }
	return a, s, release, nil
}

// ffLaunch launches kernel name of module fastfood over n elements.
func (b *Backend) ffLaunch(name string, n int64, args ...any) error {
	f, err := b.fn("fastfood", name)
	if err != nil {
		return err
	}
	if err := b.launch(f, b.grid1(n, ffThreads), dim3{ffThreads, 1, 1}, 0, args...); err != nil {
		return fmt.Errorf("cuda: fastfood: %w", err)
	}
	return nil
}

// ffIndexArgs returns the name suffix of the gather and scatter kernels of
// s's state version ("" or "2") and the arguments that follow their
// buffers: the lane table (version 2), L and the constants of Π and G in
// the kernels' order (a0, k0, a1, mask, shift, kg, mm, and for version 2
// kb, c, a2, a3, shift2, a4, a5).
func ffIndexArgs(s kernels.FastfoodSeed, lanes uint64) (string, []any) {
	mm := uint32(1)<<uint(s.LogM) - 1
	if s.Version != 2 {
		mask := uint32(1)<<uint(s.LogL) - 1
		return "", []any{int64(s.L()), s.A0, s.K0, s.A1, mask, s.Shift, s.KG, mm}
	}
	bmask := uint32(1)<<uint(s.LogL-s.BlockLog) - 1
	return "2", []any{lanes, int64(s.L()), s.A0, s.K0, s.A1, bmask, s.Shift, s.KG, mm, s.KB, uint32(s.BlockLog),
		s.A2, s.A3, s.Shift2, s.A4, s.A5}
}

// Fastfood sets p.Out = p.Base + p.Alpha·P(p.X) for the seeded projection
// p.Seed (see kernels.FastfoodParams).
func (b *Backend) Fastfood(p kernels.FastfoodParams) (err error) {
	a, scratch, release, err := b.ffPrepare(p, false)
	if err != nil {
		return err
	}
	defer release(&err)
	s := p.Seed
	l, m := s.L(), s.M()
	v, u := scratch.Slice(0, l), scratch.Slice(l, m)
	pv, err := b.ptr(v)
	if err != nil {
		return err
	}
	pu, err := b.ptr(u)
	if err != nil {
		return err
	}
	// u = H_m B x over the span of the non-zero input.
	if err := b.ffLaunch("ff_sign_load", int64(m), pu, a.x, int64(min(s.InDim, l)), int64(m), s.SignKey); err != nil {
		return err
	}
	if err := b.FWHT(u, s.LogM, 1, false); err != nil {
		return err
	}
	// v = G Π (H_L B pad(x)), reading H_L B pad(x) periodically from u.
	ver, idx := ffIndexArgs(s, a.lanes)
	if err := b.ffLaunch("ff_gather"+ver, int64(l), append([]any{pv, pu, a.gauss}, idx...)...); err != nil {
		return err
	}
	if err := b.FWHT(v, s.LogL, 1, false); err != nil {
		return err
	}
	return b.ffLaunch("ff_output", int64(s.OutDim), a.out, a.base, pv, a.alpha, s.Scale, int64(s.OutDim))
}

// FastfoodAdjoint accumulates p.Out += p.Alpha·Pᵀ(p.X) and, with p.Dot,
// p.Dot[0] += ⟨Pᵀ(p.X), p.DotWith⟩ (see kernels.FastfoodParams).
func (b *Backend) FastfoodAdjoint(p kernels.FastfoodParams) (err error) {
	a, scratch, release, err := b.ffPrepare(p, true)
	if err != nil {
		return err
	}
	defer release(&err)
	s := p.Seed
	l, m := s.L(), s.M()
	z, u := scratch.Slice(0, l), scratch.Slice(l, m)
	pz, err := b.ptr(z)
	if err != nil {
		return err
	}
	pu, err := b.ptr(u)
	if err != nil {
		return err
	}
	// z = H_L (Scale·pad(y)).
	if err := b.ffLaunch("ff_load_scaled", int64(l), pz, a.x, s.Scale, int64(s.OutDim), int64(l)); err != nil {
		return err
	}
	if err := b.FWHT(z, s.LogL, 1, false); err != nil {
		return err
	}
	// u[j] = Σ_{Π(i) mod m = j} G(i)·z[i].
	if err := b.Fill(u, 0); err != nil {
		return err
	}
	ver, idx := ffIndexArgs(s, a.lanes)
	args := append([]any{pu, pz, a.gauss}, idx...)
	if blocks, ok := b.ffSharedScatterBlocks(l, m); ok {
		f, err := b.fn("fastfood", "ff_scatter"+ver+"_shared")
		if err != nil {
			return err
		}
		if err := b.launch(f, dim3{uint32(blocks), 1, 1}, dim3{512, 1, 1}, m*4, args...); err != nil {
			return fmt.Errorf("cuda: fastfood adjoint: %w", err)
		}
	} else if err := b.ffLaunch("ff_scatter"+ver+"_global", int64(l), args...); err != nil {
		return err
	}
	// Out += Alpha·B H_m u over the first min(d, L) entries.
	if err := b.FWHT(u, s.LogM, 1, false); err != nil {
		return err
	}
	return b.ffLaunch("ff_adjoint_out", int64(min(s.InDim, l)), a.out, pu, a.alpha, a.dot, a.with, int64(min(s.InDim, l)), s.SignKey)
}
