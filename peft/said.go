package peft

import (
	"errors"
	"fmt"

	"github.com/compacter-go/compacter/fastfood"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

// said is the t5.Reparam of Intrinsic-SAID: every base tensor is
// θ_i = θ0_i + λ_i·P_i(θ_d), with θ_d the parameter intrinsic_parameter
// and λ the first entries of intrinsic_parameter_said (the official code
// counts θ_d itself among the named parameters, so the last entry is
// unused and its gradient is 0).
type said struct {
	m             *t5.Model
	s             *fastfood.SAID
	base          []*t5.Param
	theta0, cur   [][]float32
	theta, lambda *t5.Param
	head          kernels.Buffer // θ0 of the tied head (compatibility option), or nil
	imported      bool           // projections imported from the reference (not seeded)
	dev           *saidDevice    // the device path's state, or nil on the host path
}

// addSAID projects every base tensor through a seeded Fastfood map.
func (a *Applied) addSAID(seed uint64) (err error) {
	m, c := a.Model, a.Config
	r := &said{m: m}
	var ts []fastfood.Tensor
	for _, p := range m.Params {
		r.base = append(r.base, p)
		ts = append(ts, fastfood.Tensor{Name: p.Name, Size: p.Len()})
	}
	cfg := fastfood.Config{Dim: c.IntrinsicDim, Tensors: ts, Seed: seed, State: fastfood.StateVersion(c.SAIDState)}
	s, err := fastfood.NewSAID(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r.s = s
	a.Config.SAIDState = int(s.Config().State)
	if err := r.keepTheta0(); err != nil {
		return err
	}
	defer func() {
		if err != nil && r.dev != nil && a.said != r {
			err = errors.Join(err, r.dev.free(m.Backend))
		}
	}()
	if err := m.Freeze(func(string) bool { return true }, false); err != nil {
		return err
	}
	for _, p := range r.base {
		p.Derived = true
	}
	if r.theta, err = a.add("intrinsic_parameter", zero, len(s.Theta)); err != nil {
		return err
	}
	if r.lambda, err = a.add("intrinsic_parameter_said", func() float32 { return 1 }, len(s.Lambda)+1); err != nil {
		return err
	}
	if c.SAIDTiedHeadAtTheta0 && m.Config.TieWordEmbeddings {
		shared := m.Param("shared.weight")
		if r.head, err = m.Backend.Alloc(kernels.Float32, shared.Len()); err != nil {
			return fmt.Errorf("peft: %w", err)
		}
		if err := m.Backend.Copy(r.head, shared.W); err != nil {
			return err
		}
		if err := m.SetTiedHead(r.head); err != nil {
			return err
		}
	}
	a.said = r
	m.SetReparam(r)
	return r.Project()
}

// Project implements t5.Reparam.
func (r *said) Project() error {
	if r.dev != nil {
		return r.dev.project(r)
	}
	be := r.m.Backend
	if err := be.Download(r.s.Theta, r.theta.W); err != nil {
		return err
	}
	l := make([]float32, r.lambda.Len())
	if err := be.Download(l, r.lambda.W); err != nil {
		return err
	}
	copy(r.s.Lambda, l)
	if err := r.s.Apply(r.cur, r.theta0); err != nil {
		return err
	}
	for i, p := range r.base {
		if err := be.Upload(p.W, r.cur[i]); err != nil {
			return err
		}
	}
	return nil
}

// Pullback implements t5.Reparam.
func (r *said) Pullback() error {
	if r.dev != nil {
		return r.dev.pullback(r)
	}
	be := r.m.Backend
	for i, p := range r.base {
		if err := be.Download(r.cur[i], p.G); err != nil {
			return err
		}
	}
	dT := make([]float32, r.theta.Len())
	dL := make([]float32, r.lambda.Len())
	if err := be.Download(dT, r.theta.G); err != nil {
		return err
	}
	if err := be.Download(dL, r.lambda.G); err != nil {
		return err
	}
	if err := r.s.Backward(r.cur, dT, dL[:len(r.s.Lambda)]); err != nil {
		return err
	}
	return errors.Join(be.Upload(r.theta.G, dT), be.Upload(r.lambda.G, dL))
}

// loadReference replaces the seeded projections by the official code's
// (fastfood/<name>/{B,Pi,G,divisor} in f) when f holds them.
func (r *said) loadReference(f *t5.TensorFile) error {
	if !f.Has("fastfood/" + r.base[0].Name + "/B") {
		return nil
	}
	var ts []fastfood.Tensor
	for _, p := range r.base {
		ts = append(ts, fastfood.Tensor{Name: p.Name, Size: p.Len()})
	}
	state := func(i int) (fastfood.RefState, error) {
		pre := "fastfood/" + r.base[i].Name + "/"
		var st fastfood.RefState
		shape, err := f.Shape(pre + "B")
		if err != nil {
			return st, err
		}
		b, err := f.Int32(pre+"B", shape)
		if err != nil {
			return st, err
		}
		pi, err := f.Int32(pre+"Pi", shape)
		if err != nil {
			return st, err
		}
		if st.G, err = f.Float32(pre+"G", shape); err != nil {
			return st, err
		}
		div, err := f.Float32(pre+"divisor", []int{})
		if err != nil {
			return st, err
		}
		st.Divisor = div[0]
		for j := range b {
			st.B = append(st.B, int64(b[j]))
			st.Pi = append(st.Pi, int64(pi[j]))
		}
		return st, nil
	}
	if err := r.toHost(); err != nil {
		return err
	}
	s, err := fastfood.FromReference(fastfood.Config{Tensors: ts}, state, r.s.Theta, append(r.s.Lambda, 0))
	if err != nil {
		return err
	}
	r.s, r.imported = s, true
	return nil
}

// remove restores θ0 and uninstalls the reparametrisation.
func (r *said) remove() error {
	m := r.m
	m.SetReparam(nil)
	errs := []error{m.SetTiedHead(nil)}
	for i, p := range r.base {
		p.Derived = false
		if r.dev != nil {
			errs = append(errs, m.Backend.Copy(p.W, r.dev.theta0[i]))
		} else {
			errs = append(errs, m.Backend.Upload(p.W, r.theta0[i]))
		}
	}
	if r.dev != nil {
		errs = append(errs, r.dev.free(m.Backend))
		r.dev = nil
	}
	if r.head != nil {
		errs = append(errs, m.Backend.Free(r.head))
	}
	return errors.Join(errs...)
}

// saidDevice is the state of the device path of Intrinsic-SAID, taken when
// the backend implements kernels.FastfoodBackend and every projection is
// seeded: θ0 stays on the device, and Project and Pullback run the
// projections there (W_i = θ0_i + λ_i·P_i(θ_d); dθ_d += Σ_i λ_i·P_iᵀ dW_i,
// dλ_i += ⟨θ_d, P_iᵀ dW_i⟩) reading θ_d and λ where they live, so a step
// moves nothing between host and device.
type saidDevice struct {
	fb      kernels.FastfoodBackend
	seeds   []kernels.FastfoodSeed
	theta0  []kernels.Buffer // θ0 of every projected tensor
	gauss   kernels.Buffer   // fastfood.GaussTable of the projections' version
	lanes   kernels.Buffer   // fastfood.LaneTable (StateV2), or nil
	scratch kernels.Buffer   // the longest projection's working space
}

// keepTheta0 saves θ0 of every projected tensor: on the device when the
// backend and the projections allow the device path, else on the host.
func (r *said) keepTheta0() error {
	be := r.m.Backend
	if dev, err := r.newDevice(); err != nil || dev != nil {
		r.dev = dev
		return err
	}
	for _, p := range r.base {
		v := make([]float32, p.Len())
		if err := be.Download(v, p.W); err != nil {
			return err
		}
		r.theta0 = append(r.theta0, v)
		r.cur = append(r.cur, make([]float32, p.Len()))
	}
	return nil
}

// newDevice returns the device path's state with a copy of θ0, or nil when
// the backend or the projections do not allow it.
func (r *said) newDevice() (d *saidDevice, err error) {
	be := r.m.Backend
	fb, ok := be.(kernels.FastfoodBackend)
	if !ok {
		return nil, nil
	}
	d = &saidDevice{fb: fb}
	n := 0
	for i := range r.base {
		s, ok := r.s.Projection(i).DeviceSeed()
		if !ok {
			return nil, nil
		}
		d.seeds = append(d.seeds, s)
		n = max(n, s.ScratchLen())
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("peft: %w", err), d.free(be))
			d = nil
		}
	}()
	v := r.s.Config().State
	tab := fastfood.GaussTable(v)
	if d.gauss, err = be.Alloc(kernels.Float32, len(tab)); err != nil {
		return d, err
	}
	if err = be.Upload(d.gauss, tab); err != nil {
		return d, err
	}
	if v == fastfood.StateV2 {
		lanes := fastfood.LaneTable()
		if d.lanes, err = be.Alloc(kernels.Int32, len(lanes)); err != nil {
			return d, err
		}
		if err = be.UploadInt32(d.lanes, lanes); err != nil {
			return d, err
		}
	}
	if d.scratch, err = be.Alloc(kernels.Float32, n); err != nil {
		return d, err
	}
	for _, p := range r.base {
		t, err := be.Alloc(kernels.Float32, p.Len())
		if err != nil {
			return d, err
		}
		d.theta0 = append(d.theta0, t)
		if err := be.Copy(t, p.W); err != nil {
			return d, err
		}
	}
	return d, nil
}

// free releases the device path's buffers.
func (d *saidDevice) free(be kernels.Backend) error {
	var errs []error
	for _, b := range append([]kernels.Buffer{d.gauss, d.lanes, d.scratch}, d.theta0...) {
		if b != nil {
			errs = append(errs, be.Free(b))
		}
	}
	d.theta0, d.gauss, d.lanes, d.scratch = nil, nil, nil, nil
	return errors.Join(errs...)
}

// toHost leaves the device path (for imported projections): θ0, θ_d and λ
// come to the host, and the device buffers are freed.
func (r *said) toHost() error {
	d := r.dev
	if d == nil {
		return nil
	}
	be := r.m.Backend
	if err := be.Download(r.s.Theta, r.theta.W); err != nil {
		return err
	}
	l := make([]float32, r.lambda.Len())
	if err := be.Download(l, r.lambda.W); err != nil {
		return err
	}
	copy(r.s.Lambda, l)
	r.theta0, r.cur = nil, nil
	for i, p := range r.base {
		v := make([]float32, p.Len())
		if err := be.Download(v, d.theta0[i]); err != nil {
			return err
		}
		r.theta0 = append(r.theta0, v)
		r.cur = append(r.cur, make([]float32, p.Len()))
	}
	r.dev = nil
	return d.free(be)
}

// project sets W_i = θ0_i + λ_i·P_i(θ_d) on the device.
func (d *saidDevice) project(r *said) error {
	for i, p := range r.base {
		err := d.fb.Fastfood(kernels.FastfoodParams{Seed: d.seeds[i], Gauss: d.gauss, Lanes: d.lanes, X: r.theta.W,
			Out: p.W, Base: d.theta0[i], Alpha: r.lambda.W.Slice(i, 1), Scratch: d.scratch})
		if err != nil {
			return fmt.Errorf("peft: SAID projection of %s: %w", p.Name, err)
		}
	}
	return nil
}

// pullback accumulates dθ_d += λ_i·P_iᵀ dW_i and dλ_i += ⟨θ_d, P_iᵀ dW_i⟩
// on the device.
func (d *saidDevice) pullback(r *said) error {
	for i, p := range r.base {
		err := d.fb.FastfoodAdjoint(kernels.FastfoodParams{Seed: d.seeds[i], Gauss: d.gauss, Lanes: d.lanes, X: p.G,
			Out: r.theta.G, Alpha: r.lambda.W.Slice(i, 1), Dot: r.lambda.G.Slice(i, 1), DotWith: r.theta.W,
			Scratch: d.scratch})
		if err != nil {
			return fmt.Errorf("peft: SAID pullback of %s: %w", p.Name, err)
		}
	}
	return nil
}
