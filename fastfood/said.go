package fastfood

import (
	"fmt"
	"sort"

	"github.com/compacter-go/compacter/kernels"
)

// Tensor names one parameter tensor that SAID projects into, and its number
// of elements.
type Tensor struct {
	Name string
	Size int
}

// Config describes an Intrinsic-SAID model.
type Config struct {
	// Dim is the requested intrinsic dimension d.
	Dim int
	// Tensors are the projected parameter tensors, in order.
	Tensors []Tensor
	// Seed draws every projection's B, Π and G.
	Seed uint64
	// State is the version of the seeded random state (0 means
	// LatestState; NewSAID records the version it used in Config()). A
	// trained θ_d reproduces its weights only with the version it was
	// trained with.
	State StateVersion
	// Global selects one projection over the concatenation of all tensors
	// and no λ (θ = θ0 + P(θ_d), with len(θ_d) = Dim) instead of one
	// projection and one λ_i per tensor.
	Global bool
	// Threads is the number of goroutines; 0 means GOMAXPROCS.
	Threads int
}

// SAID is an Intrinsic-SAID model: θ_i = θ0_i + λ_i·P_i(θ_d) for every
// projected tensor i (or θ = θ0 + P(θ_d) when Global).
//
// Per tensor, len(θ_d) = Dim − len(Tensors) − 1, as in the reference: it
// subtracts one scalar per named parameter, and θ_d is a named parameter
// too, so its SAID vector has one more entry than there are projected
// tensors (an entry no tensor uses; its gradient is always 0). Lambda here
// has one entry per projected tensor; FromReference drops the unused one.
type SAID struct {
	// Theta is θ_d; it starts at 0, so the model starts at θ0.
	Theta []float32
	// Lambda holds λ_i per tensor (nil when Global); they start at 1.
	Lambda []float32

	cfg     Config
	proj    []*Projection
	offsets []int // Global: start of each tensor in the concatenation
	scratch []float32
}

// ThetaLen returns the length of θ_d for cfg.
func ThetaLen(cfg Config) int {
	if cfg.Global {
		return cfg.Dim
	}
	return cfg.Dim - len(cfg.Tensors) - 1
}

func (cfg Config) check() error {
	if _, err := cfg.State.resolve(); err != nil {
		return fmt.Errorf("%w: %w", err, kernels.ErrShape)
	}
	if len(cfg.Tensors) == 0 {
		return fmt.Errorf("fastfood: SAID without tensors: %w", kernels.ErrShape)
	}
	if n := ThetaLen(cfg); n < 1 {
		return fmt.Errorf("fastfood: intrinsic dimension %d leaves %d entries for θ_d with %d tensors: %w", cfg.Dim, n, len(cfg.Tensors), kernels.ErrShape)
	}
	total := 0
	for _, t := range cfg.Tensors {
		if t.Size < 1 {
			return fmt.Errorf("fastfood: tensor %q of size %d: %w", t.Name, t.Size, kernels.ErrShape)
		}
		total += t.Size
	}
	if cfg.Global && total > 1<<maxLog {
		return fmt.Errorf("fastfood: %d elements in all tensors, more than 2^%d: %w", total, maxLog, kernels.ErrShape)
	}
	return nil
}

// NewSAID returns the model cfg describes with seeded projections (tensor
// i's from the seed Mix64(Seed ^ Mix64(i)), of version cfg.State), θ_d = 0
// and λ = 1.
func NewSAID(cfg Config) (*SAID, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.State, _ = cfg.State.resolve()
	s := &SAID{cfg: cfg, Theta: make([]float32, ThetaLen(cfg))}
	d := len(s.Theta)
	if cfg.Global {
		total := 0
		for _, t := range cfg.Tensors {
			s.offsets = append(s.offsets, total)
			total += t.Size
		}
		p, err := NewVersion(d, total, kernels.Mix64(cfg.Seed), cfg.State)
		if err != nil {
			return nil, err
		}
		p.Threads = cfg.Threads
		s.proj = []*Projection{p}
		return s, nil
	}
	s.Lambda = make([]float32, len(cfg.Tensors))
	for i, t := range cfg.Tensors {
		s.Lambda[i] = 1
		p, err := NewVersion(d, t.Size, kernels.Mix64(cfg.Seed^kernels.Mix64(uint64(i))), cfg.State)
		if err != nil {
			return nil, fmt.Errorf("fastfood: tensor %q: %w", t.Name, err)
		}
		p.Threads = cfg.Threads
		s.proj = append(s.proj, p)
	}
	return s, nil
}

// RefState is the imported state of one projected tensor of the reference.
type RefState struct {
	B, Pi   []int64
	G       []float32
	Divisor float32
}

// FromReference returns a per-tensor model with the reference's explicit
// projections: state(i) returns tensor i's fastfood/<name>/{B,Pi,G,divisor},
// theta is its intrinsic_parameter and said its intrinsic_parameter_said
// (len(Tensors)+1 entries, the last unused, or len(Tensors)). cfg.Dim and
// cfg.Seed are ignored; Dim is taken as len(theta)+len(said).
func FromReference(cfg Config, state func(i int) (RefState, error), theta, said []float32) (*SAID, error) {
	m := len(cfg.Tensors)
	if len(said) != m && len(said) != m+1 {
		return nil, fmt.Errorf("fastfood: %d SAID scalars for %d tensors: %w", len(said), m, kernels.ErrShape)
	}
	cfg.Global = false
	cfg.Dim = len(theta) + m + 1
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &SAID{cfg: cfg, Theta: append([]float32(nil), theta...), Lambda: append([]float32(nil), said[:m]...)}
	for i, t := range cfg.Tensors {
		st, err := state(i)
		if err != nil {
			return nil, fmt.Errorf("fastfood: tensor %q: %w", t.Name, err)
		}
		p, err := FromState(len(theta), t.Size, st.B, st.Pi, st.G, st.Divisor)
		if err != nil {
			return nil, fmt.Errorf("fastfood: tensor %q: %w", t.Name, err)
		}
		p.Threads = cfg.Threads
		s.proj = append(s.proj, p)
	}
	return s, nil
}

// Config returns the model's configuration.
func (s *SAID) Config() Config { return s.cfg }

// Projection returns the projection of tensor i (the only one, for i = 0,
// when Global).
func (s *SAID) Projection(i int) *Projection { return s.proj[i] }

// StateBytes returns the bytes of per-element random state of all
// projections (0 when seeded).
func (s *SAID) StateBytes() int {
	n := 0
	for _, p := range s.proj {
		n += p.StateBytes()
	}
	return n
}

func (s *SAID) buffer() []float32 {
	n := 0
	for _, p := range s.proj {
		n = max(n, p.ScratchLen())
	}
	if len(s.scratch) < n {
		s.scratch = make([]float32, n)
	}
	return s.scratch
}

func (s *SAID) checkTensors(op string, ts [][]float32) error {
	if len(ts) != len(s.cfg.Tensors) {
		return fmt.Errorf("fastfood: SAID %s: %d tensors, want %d: %w", op, len(ts), len(s.cfg.Tensors), kernels.ErrShape)
	}
	for i, t := range s.cfg.Tensors {
		if len(ts[i]) != t.Size {
			return fmt.Errorf("fastfood: SAID %s: tensor %q has %d elements, want %d: %w", op, t.Name, len(ts[i]), t.Size, kernels.ErrShape)
		}
	}
	return nil
}

// Apply sets dst_i = θ0_i + λ_i·P_i(θ_d) (θ0 + P(θ_d) when Global) for every
// tensor; dst[i] may be theta0[i] (the merge in place). Not safe for
// concurrent use: the model owns one scratch buffer.
func (s *SAID) Apply(dst, theta0 [][]float32) error {
	if err := s.checkTensors("apply", dst); err != nil {
		return err
	}
	if err := s.checkTensors("apply", theta0); err != nil {
		return err
	}
	buf := s.buffer()
	for i := range dst {
		if &dst[i][0] != &theta0[i][0] {
			copy(dst[i], theta0[i])
		}
	}
	if s.cfg.Global {
		p := s.proj[0]
		c := float32(p.Scale())
		p.lift(s.Theta, buf, func(h []float32, off int) {
			s.segments(off, len(h), func(i, lo, hi, at int) {
				addScaled(dst[i][lo:hi], 1, c, h[at:])
			})
		})
		return nil
	}
	for i, p := range s.proj {
		if err := p.ForwardAdd(dst[i], s.Lambda[i], s.Theta, buf); err != nil {
			return err
		}
	}
	return nil
}

// Backward accumulates the gradients of θ_d and λ from the gradients
// grad[i] of the loss with respect to the applied tensors θ_i:
// dTheta += Σ_i λ_i·P_iᵀ grad_i and dLambda[i] += ⟨P_i(θ_d), grad_i⟩,
// computed as ⟨θ_d, P_iᵀ grad_i⟩ so that no forward output is kept.
// dLambda is ignored (and may be nil) when Global.
func (s *SAID) Backward(grad [][]float32, dTheta, dLambda []float32) error {
	if err := s.checkTensors("backward", grad); err != nil {
		return err
	}
	if len(dTheta) != len(s.Theta) || (!s.cfg.Global && len(dLambda) != len(s.Lambda)) {
		return fmt.Errorf("fastfood: SAID backward: dTheta %d, dLambda %d, want %d and %d: %w", len(dTheta), len(dLambda), len(s.Theta), len(s.Lambda), kernels.ErrShape)
	}
	buf := s.buffer()
	a := make([]float32, len(s.Theta))
	if s.cfg.Global {
		p := s.proj[0]
		c := float32(p.Scale())
		p.lower(a, buf, func(b []float32, off int) {
			clear(b)
			s.segments(off, len(b), func(i, lo, hi, at int) {
				setScaled(b[at:at+hi-lo], c, grad[i][lo:hi])
			})
		})
		for j, v := range a {
			dTheta[j] += v
		}
		return nil
	}
	for i, p := range s.proj {
		if err := p.Adjoint(a, grad[i], buf); err != nil {
			return err
		}
		var dot float64
		l := s.Lambda[i]
		for j, v := range a {
			dTheta[j] += l * v
			dot += float64(v) * float64(s.Theta[j])
		}
		dLambda[i] += float32(dot)
	}
	return nil
}

// segments calls fn(i, lo, hi, at) for every tensor i of a Global model
// that overlaps the range [off, off+n) of the concatenation: its elements
// [lo, hi) sit at off+at.
func (s *SAID) segments(off, n int, fn func(i, lo, hi, at int)) {
	i := sort.Search(len(s.offsets), func(i int) bool { return s.offsets[i] > off }) - 1
	for ; i < len(s.offsets); i++ {
		o := s.offsets[i]
		if o >= off+n {
			return
		}
		lo, hi := max(off, o), min(off+n, o+s.cfg.Tensors[i].Size)
		if lo < hi {
			fn(i, lo-o, hi-o, lo-off)
		}
	}
}
