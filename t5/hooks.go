package t5

import (
	"fmt"
	"slices"

	"github.com/compacter-go/compacter/kernels"
)

// SubLayerKind names the kind of a T5 sub-layer.
type SubLayerKind uint8

// Sub-layer kinds.
const (
	SelfAttention SubLayerKind = iota
	CrossAttention
	FeedForward
)

// Site identifies one sub-layer of the model: the layer Layer of block
// Block of the encoder or decoder, as in the Hugging Face name
// "encoder.block.<Block>.layer.<Layer>.".
type Site struct {
	Decoder      bool
	Block, Layer int
	Kind         SubLayerKind
}

// Prefix is the Hugging Face name prefix of the sub-layer, for example
// "decoder.block.1.layer.2.".
func (s Site) Prefix() string {
	stack := "encoder"
	if s.Decoder {
		stack = "decoder"
	}
	return fmt.Sprintf("%s.block.%d.layer.%d.", stack, s.Block, s.Layer)
}

// SubLayerHook transforms the output of sub-layers before their dropout
// and residual addition (hidden ← hidden + dropout(f(y)) for a sub-layer
// output y), the place where the official Compacter code calls its
// adapter_controller. A model calls its hook (SetHook) at every site.
type SubLayerHook interface {
	// Forward replaces y, the [rows, d_model] output of the sub-layer at
	// site, by f(y) in place. It returns what the backward needs (nil when
	// it does nothing at the site). In inference (no backward) the state
	// is released as soon as the sub-layer is done.
	Forward(site Site, y kernels.Buffer, rows int) (HookState, error)
	// Trainable reports whether f at site depends on trainable tensors,
	// so that Backward reaches the sub-layer.
	Trainable(site Site) bool
}

// HookState is what a SubLayerHook keeps from one forward call.
type HookState interface {
	// Backward replaces dy, the gradient with respect to f(y), by the
	// gradient with respect to y in place, and accumulates the gradients
	// of the hook's trainable tensors.
	Backward(dy kernels.Buffer) error
	// Release frees the state's buffers.
	Release() error
}

// SetHook installs a sub-layer hook (nil removes it).
func (m *Model) SetHook(h SubLayerHook) { m.hook = h }

// Hook returns the installed sub-layer hook, or nil.
func (m *Model) Hook() SubLayerHook { return m.hook }

// AddParam adds a parameter outside the T5 architecture (the tensors of a
// parameter-efficient method) with zero values and a gradient buffer, at
// the end of Params. Trainer, ZeroGrad, Freeze and Close treat it as any
// other parameter.
func (m *Model) AddParam(name string, shape ...int) (*Param, error) {
	if _, ok := m.byName[name]; ok {
		return nil, fmt.Errorf("t5: parameter %s already exists", name)
	}
	p := &Param{Name: name, Shape: slices.Clone(shape)}
	if p.Len() <= 0 {
		return nil, fmt.Errorf("t5: parameter %s has shape %v", name, shape)
	}
	var err error
	if p.W, err = m.Backend.Alloc(kernels.Float32, p.Len()); err != nil {
		return nil, fmt.Errorf("t5: allocating %s: %w", name, err)
	}
	if p.G, err = m.Backend.Alloc(kernels.Float32, p.Len()); err != nil {
		m.Backend.Free(p.W)
		return nil, fmt.Errorf("t5: allocating %s: %w", name, err)
	}
	m.Params = append(m.Params, p)
	m.byName[name] = p
	return p, nil
}

// RemoveParam frees and removes a parameter added by AddParam.
func (m *Model) RemoveParam(name string) error {
	p, ok := m.byName[name]
	if !ok {
		return fmt.Errorf("t5: no parameter %s", name)
	}
	var err error
	for _, b := range []kernels.Buffer{p.W, p.G, p.M, p.V} {
		if b != nil {
			if e := m.Backend.Free(b); err == nil {
				err = e
			}
		}
	}
	delete(m.byName, name)
	m.Params = slices.DeleteFunc(m.Params, func(q *Param) bool { return q == p })
	return err
}

// hookForward runs the hook at site on y and records its state for the
// backward (or releases it at once in inference).
func (ps *Pass) hookForward(e *errs, site Site, y kernels.Buffer, rows int) HookState {
	h := ps.m.hook
	if h == nil || e.err != nil {
		return nil
	}
	st, err := h.Forward(site, y, rows)
	if err != nil {
		e.do(fmt.Errorf("t5: hook at %s: %w", site.Prefix(), err))
		return nil
	}
	if st == nil {
		return nil
	}
	if ps.infer {
		e.do(st.Release())
		return nil
	}
	ps.hooks = append(ps.hooks, st)
	return st
}

// hookBackward backpropagates dout through the hook state st (nothing
// without one). dout may be the residual gradient itself, which must stay
// unchanged: the result is then written into the scratch sc.dout.
func (ps *Pass) hookBackward(e *errs, sc *scratch, st HookState, dout, dh kernels.Buffer, rows int) kernels.Buffer {
	if st == nil || e.err != nil {
		return dout
	}
	if dout == dh {
		d := sc.dout.Slice(0, rows*ps.m.Config.DModel)
		e.do(ps.m.Backend.Copy(d, dh))
		dout = d
	}
	e.do(st.Backward(dout))
	return dout
}

// hookTrainable reports whether the hook has trainable tensors at a site
// of block i of a stack.
func (m *Model) hookTrainable(decoder bool, block int) bool {
	if m.hook == nil {
		return false
	}
	for _, s := range m.sites(decoder, block) {
		if m.hook.Trainable(s) {
			return true
		}
	}
	return false
}

// sites lists the sub-layers of block i of a stack.
func (m *Model) sites(decoder bool, block int) []Site {
	if decoder {
		return []Site{{true, block, 0, SelfAttention}, {true, block, 1, CrossAttention}, {true, block, 2, FeedForward}}
	}
	return []Site{{false, block, 0, SelfAttention}, {false, block, 1, FeedForward}}
}
