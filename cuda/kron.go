//go:build linux && cgo && !nocuda

package cuda

import (
	"errors"
	"fmt"

	"github.com/compacter-go/compacter/kernels"
)

// The Kronecker (PHM/LPHM) operations of the CUDA backend: KronSum and
// KronSumBackward here, PHM and PHMBackward in kron_phm.go, the kernels in
// kernels/kron.cu. The low-rank products W[i] = S[i]·T[i], dS and dT are
// strided batched GEMMs through cuBLAS.

// kronModule is the PTX module of the Kronecker kernels.
const kronModule = "kron"

// kronBlock is the block size of every Kronecker kernel (a multiple of 32,
// as kron_da's block reduction needs).
const kronBlock = 256

// kronOptPtr is b.ptr for an optional buffer: 0 for nil.
func (b *Backend) kronOptPtr(op, name string, buf kernels.Buffer) (uint64, error) {
	if buf == nil {
		return 0, nil
	}
	p, err := b.ptr(buf)
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", op, name, err)
	}
	return p, nil
}

// kronSlot pairs an optional buffer with the address it resolves to.
type kronSlot struct {
	name string
	buf  kernels.Buffer
	dst  *uint64
}

// kronResolve fills every slot's address (0 for a nil buffer), so that a
// foreign or freed buffer is reported before any work is queued.
func (b *Backend) kronResolve(op string, slots ...kronSlot) error {
	for _, s := range slots {
		p, err := b.kronOptPtr(op, s.name, s.buf)
		if err != nil {
			return err
		}
		*s.dst = p
	}
	return nil
}

// kronScratch collects device buffers to free when an operation ends.
type kronScratch struct {
	b    *Backend
	bufs []kernels.Buffer
}

// alloc returns a zeroed Float32 buffer of n elements and its address.
func (s *kronScratch) alloc(n int) (kernels.Buffer, uint64, error) {
	buf, err := s.b.Alloc(kernels.Float32, n)
	if err != nil {
		return nil, 0, err
	}
	s.bufs = append(s.bufs, buf)
	p, err := s.b.ptr(buf)
	return buf, p, err
}

// free releases the buffers and joins the error of the operation with those
// of the frees. (The allocator hands a freed buffer only to later work on
// the same stream, so kernels still queued on it are not disturbed.)
func (s *kronScratch) free(err *error) {
	for _, buf := range s.bufs {
		if e := s.b.Free(buf); e != nil {
			*err = errors.Join(*err, e)
		}
	}
	s.bufs = nil
}

// kronDims are the sizes of a layer: n, p = In/n, q = Out/n and the rank.
type kronDims struct{ n, p, q, r int }

func kronDimsOf(in, out, n, rank int) kronDims { return kronDims{n, in / n, out / n, rank} }

// kronPtrs are the device addresses of a KronParams (0 for nil buffers).
type kronPtrs struct{ a, w, s, t, h, dh, da, dw, ds, dt uint64 }

func (b *Backend) kronPtrs(op string, p kernels.KronParams) (kronPtrs, error) {
	var k kronPtrs
	return k, b.kronResolve(op, kronSlot{"A", p.A, &k.a}, kronSlot{"W", p.W, &k.w}, kronSlot{"S", p.S, &k.s},
		kronSlot{"T", p.T, &k.t}, kronSlot{"H", p.H, &k.h}, kronSlot{"DH", p.DH, &k.dh}, kronSlot{"DA", p.DA, &k.da},
		kronSlot{"DW", p.DW, &k.dw}, kronSlot{"DS", p.DS, &k.ds}, kronSlot{"DT", p.DT, &k.dt})
}

// KronSum materialises H = Σᵢ kron(A[i], W[i]) (W[i] = S[i]·T[i] when
// Rank > 0).
func (b *Backend) KronSum(p kernels.KronParams) error {
	if p.Rank > 0 {
		p.W = nil // not used; the CPU backend does not resolve it either
	} else {
		p.S, p.T = nil, nil
	}
	if err := p.Validate(false); err != nil {
		return err
	}
	k, err := b.kronPtrs("kronsum", p)
	if err != nil {
		return err
	}
	return b.kronSum(p, k)
}

// kronSum writes H (at k.h) for validated weights.
func (b *Backend) kronSum(p kernels.KronParams, k kronPtrs) (err error) {
	d := kronDimsOf(p.In, p.Out, p.N, p.Rank)
	sc := kronScratch{b: b}
	defer sc.free(&err)
	w := k.w
	if d.r > 0 {
		wb, wp, err := sc.alloc(d.n * d.p * d.q)
		if err != nil {
			return fmt.Errorf("kronsum: %w", err)
		}
		if err := b.lowRankW(d, p.S, p.T, wb); err != nil {
			return err
		}
		w = wp
	}
	f, err := b.fn(kronModule, "kron_sum")
	if err != nil {
		return err
	}
	total := int64(p.In) * int64(p.Out)
	return b.launch(f, kronGrid(total, kronBlock, b.numSMs*32), dim3{kronBlock, 1, 1}, 0,
		k.h, k.a, w, int32(d.n), int32(d.p), int32(d.q))
}

// lowRankW writes W[i] = S[i]·T[i] for every i (one strided batched GEMM).
func (b *Backend) lowRankW(d kronDims, s, t, w kernels.Buffer) error {
	err := b.Gemm(kernels.GemmParams{M: d.p, N: d.q, K: d.r, Alpha: 1, A: s, B: t, C: w,
		Batch: d.n, StrideA: d.p * d.r, StrideB: d.r * d.q, StrideC: d.p * d.q})
	if err != nil {
		return fmt.Errorf("kron: W = S·T: %w", err)
	}
	return nil
}

// KronSumBackward accumulates DA and DW (or DS and DT), those not nil,
// from DH.
func (b *Backend) KronSumBackward(p kernels.KronParams) error {
	if p.Rank > 0 {
		p.W, p.DW = nil, nil
	} else {
		p.S, p.T, p.DS, p.DT = nil, nil, nil, nil
	}
	if err := p.Validate(true); err != nil {
		return err
	}
	k, err := b.kronPtrs("kronsum backward", p)
	if err != nil {
		return err
	}
	return b.kronSumBackward(p, k)
}

// kronSumBackward accumulates the weight gradients of validated params from
// DH (at k.dh).
func (b *Backend) kronSumBackward(p kernels.KronParams, k kronPtrs) (err error) {
	d := kronDimsOf(p.In, p.Out, p.N, p.Rank)
	lowGrads := d.r > 0 && (p.DS != nil || p.DT != nil)
	if p.DA == nil && p.DW == nil && !lowGrads {
		return nil
	}
	sc := kronScratch{b: b}
	defer sc.free(&err)
	npq := d.n * d.p * d.q
	w := k.w
	if d.r > 0 && p.DA != nil {
		wb, wp, err := sc.alloc(npq)
		if err != nil {
			return fmt.Errorf("kronsum backward: %w", err)
		}
		if err := b.lowRankW(d, p.S, p.T, wb); err != nil {
			return err
		}
		w = wp
	}
	if p.DA != nil {
		f, err := b.fn(kronModule, "kron_da")
		if err != nil {
			return err
		}
		n3 := int64(d.n) * int64(d.n) * int64(d.n)
		if err := b.launch(f, kronGrid(n3, 1, b.numSMs*8), dim3{kronBlock, 1, 1}, 0,
			k.da, w, k.dh, int32(d.n), int32(d.p), int32(d.q)); err != nil {
			return fmt.Errorf("kronsum backward dA: %w", err)
		}
	}
	dw, dwp := p.DW, k.dw
	if lowGrads {
		if dw, dwp, err = sc.alloc(npq); err != nil { // zeroed: kron_dw accumulates
			return fmt.Errorf("kronsum backward: %w", err)
		}
	}
	if dw != nil {
		f, err := b.fn(kronModule, "kron_dw")
		if err != nil {
			return err
		}
		if err := b.launch(f, kronGrid(int64(npq), kronBlock, b.numSMs*32), dim3{kronBlock, 1, 1}, 0,
			dwp, k.a, k.dh, int32(d.n), int32(d.p), int32(d.q)); err != nil {
			return fmt.Errorf("kronsum backward dW: %w", err)
		}
	}
	if !lowGrads {
		return nil
	}
	return b.lowRankBackward(d, p.S, p.T, dw, p.DS, p.DT)
}

// lowRankBackward accumulates dS[i] += dW[i]·T[i]ᵀ and dT[i] += S[i]ᵀ·dW[i]
// (for those not nil) with strided batched GEMMs.
func (b *Backend) lowRankBackward(d kronDims, s, t, dw, ds, dt kernels.Buffer) error {
	if ds != nil {
		if err := b.Gemm(kernels.GemmParams{TransB: true, M: d.p, N: d.r, K: d.q, Alpha: 1, Beta: 1,
			A: dw, B: t, C: ds, Batch: d.n, StrideA: d.p * d.q, StrideB: d.r * d.q, StrideC: d.p * d.r}); err != nil {
			return fmt.Errorf("kron: dS += dW·Tᵀ: %w", err)
		}
	}
	if dt != nil {
		if err := b.Gemm(kernels.GemmParams{TransA: true, M: d.r, N: d.q, K: d.p, Alpha: 1, Beta: 1,
			A: s, B: dw, C: dt, Batch: d.n, StrideA: d.p * d.r, StrideB: d.p * d.q, StrideC: d.r * d.q}); err != nil {
			return fmt.Errorf("kron: dT += Sᵀ·dW: %w", err)
		}
	}
	return nil
}
