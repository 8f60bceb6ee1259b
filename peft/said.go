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
}

// addSAID projects every base tensor through a seeded Fastfood map.
func (a *Applied) addSAID(seed uint64) error {
	m, c := a.Model, a.Config
	r := &said{m: m}
	var ts []fastfood.Tensor
	for _, p := range m.Params {
		r.base = append(r.base, p)
		ts = append(ts, fastfood.Tensor{Name: p.Name, Size: p.Len()})
	}
	cfg := fastfood.Config{Dim: c.IntrinsicDim, Tensors: ts, Seed: seed}
	s, err := fastfood.NewSAID(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r.s = s
	for _, p := range r.base {
		v := make([]float32, p.Len())
		if err := m.Backend.Download(v, p.W); err != nil {
			return err
		}
		r.theta0 = append(r.theta0, v)
		r.cur = append(r.cur, make([]float32, p.Len()))
	}
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
		errs = append(errs, m.Backend.Upload(p.W, r.theta0[i]))
	}
	if r.head != nil {
		errs = append(errs, m.Backend.Free(r.head))
	}
	return errors.Join(errs...)
}
