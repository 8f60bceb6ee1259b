package cpu

import "github.com/compacter-go/compacter/kernels"

// The Kronecker (PHM/LPHM) operations of the CPU backend: argument checks,
// then the raw-slice implementations of kron_phm.go with this backend's
// SIMD and thread settings.

// kronSlot pairs a buffer with the slice field it fills.
type kronSlot struct {
	dst *[]float32
	src kernels.Buffer
}

// fill resolves every slot's buffer (nil stays nil) to its memory.
func (b *Backend) fill(slots []kronSlot) error {
	for _, f := range slots {
		s, err := b.f32(f.src)
		if err != nil {
			return err
		}
		*f.dst = s
	}
	return nil
}

func (b *Backend) kronArgs(p kernels.KronParams) (KronArgs, error) {
	k := KronArgs{In: p.In, Out: p.Out, N: p.N, Rank: p.Rank}
	slots := []kronSlot{{&k.A, p.A}, {&k.H, p.H}, {&k.DH, p.DH}, {&k.DA, p.DA}}
	if p.Rank > 0 {
		slots = append(slots, kronSlot{&k.S, p.S}, kronSlot{&k.T, p.T}, kronSlot{&k.DS, p.DS}, kronSlot{&k.DT, p.DT})
	} else {
		slots = append(slots, kronSlot{&k.W, p.W}, kronSlot{&k.DW, p.DW})
	}
	return k, b.fill(slots)
}

// KronSum materialises H = Σᵢ kron(A[i], W[i]) (W[i] = S[i]·T[i] when
// Rank > 0).
func (b *Backend) KronSum(p kernels.KronParams) error {
	if err := p.Validate(false); err != nil {
		return err
	}
	k, err := b.kronArgs(p)
	if err != nil {
		return err
	}
	kronCtx{simd: b.simd, threads: b.threads}.kronSum(&k)
	return nil
}

// KronSumBackward accumulates DA and DW (or DS and DT) from DH.
func (b *Backend) KronSumBackward(p kernels.KronParams) error {
	if err := p.Validate(true); err != nil {
		return err
	}
	k, err := b.kronArgs(p)
	if err != nil {
		return err
	}
	kronCtx{simd: b.simd, threads: b.threads}.kronSumBackward(&k)
	return nil
}

func (b *Backend) phmArgs(p kernels.PHMParams, backward bool) (PHMArgs, error) {
	if err := p.Validate(backward); err != nil {
		return PHMArgs{}, err
	}
	a := PHMArgs{Rows: p.Rows, In: p.In, Out: p.Out, N: p.N, Rank: p.Rank, Algo: p.Algo, Accumulate: p.Accumulate}
	slots := []kronSlot{{&a.X, p.X}, {&a.A, p.A}, {&a.Bias, p.Bias}}
	if p.Rank > 0 {
		slots = append(slots, kronSlot{&a.S, p.S}, kronSlot{&a.T, p.T})
	} else {
		slots = append(slots, kronSlot{&a.W, p.W})
	}
	if !backward {
		slots = append(slots, kronSlot{&a.Y, p.Y})
	} else {
		slots = append(slots, kronSlot{&a.DY, p.DY}, kronSlot{&a.DX, p.DX}, kronSlot{&a.DA, p.DA}, kronSlot{&a.DBias, p.DBias})
		if p.Rank > 0 {
			slots = append(slots, kronSlot{&a.DS, p.DS}, kronSlot{&a.DT, p.DT})
		} else {
			slots = append(slots, kronSlot{&a.DW, p.DW})
		}
	}
	return a, b.fill(slots)
}

// PHM computes Y = X·H + Bias, fused or through a materialised H as
// p.Algo (or, for PHMAuto, ChoosePHM) says.
func (b *Backend) PHM(p kernels.PHMParams) error {
	a, err := b.phmArgs(p, false)
	if err != nil {
		return err
	}
	kronCtx{simd: b.simd, threads: b.threads}.phm(&a, false)
	return nil
}

// PHMBackward overwrites DX (when not nil; adds to it with p.Accumulate)
// and accumulates DA, DW (or DS and DT) and DBias (those not nil).
func (b *Backend) PHMBackward(p kernels.PHMParams) error {
	a, err := b.phmArgs(p, true)
	if err != nil {
		return err
	}
	kronCtx{simd: b.simd, threads: b.threads}.phm(&a, true)
	return nil
}
