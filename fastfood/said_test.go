package fastfood

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/nlpodyssey/safetensors"
)

// projected describes one tensor of the reference's peft.json "intrinsic"
// block.
type projected struct {
	Name      string `json:"name"`
	SaidIndex int    `json:"said_index"`
	Numel     int    `json:"numel"`
	LL        int    `json:"LL"`
}

func loadST(t *testing.T, path string) (safetensors.SafeTensors, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Deserialize(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	_, md, err := safetensors.ReadMetadata(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st, md.Metadata()
}

func tensor(t *testing.T, st safetensors.SafeTensors, name string, dt safetensors.DType) []byte {
	t.Helper()
	tv, ok := st.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	if tv.DType() != dt {
		t.Fatalf("%s: dtype %v, want %v", name, tv.DType(), dt)
	}
	return tv.Data()
}

func f32sOf(t *testing.T, st safetensors.SafeTensors, name string) []float32 {
	b := tensor(t, st, name, safetensors.F32)
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func i64sOf(t *testing.T, st safetensors.SafeTensors, name string) []int64 {
	b := tensor(t, st, name, safetensors.I64)
	v := make([]int64, len(b)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}

// checkReference applies the reference's θ_d and λ with its imported
// B/Pi/G to θ0 and compares θ − θ0 with λ_i times the official formula
// evaluated in float64 from the same stored pieces (the reference stores
// no projection outputs). It also checks divisor = √(L·ΣG²).
func checkReference(t *testing.T, peft, model safetensors.SafeTensors, theta0Prefix string, proj []projected) {
	theta := f32sOf(t, peft, "intrinsic_parameter")
	saidAll := f32sOf(t, peft, "intrinsic_parameter_said")
	cfg := Config{Threads: 2}
	said := make([]float32, len(proj))
	theta0 := make([][]float32, len(proj))
	for i, p := range proj {
		cfg.Tensors = append(cfg.Tensors, Tensor{Name: p.Name, Size: p.Numel})
		said[i] = saidAll[p.SaidIndex]
		theta0[i] = f32sOf(t, model, theta0Prefix+p.Name)
	}
	state := func(i int) (RefState, error) {
		pre := "fastfood/" + proj[i].Name + "/"
		return RefState{B: i64sOf(t, peft, pre+"B"), Pi: i64sOf(t, peft, pre+"Pi"), G: f32sOf(t, peft, pre+"G"),
			Divisor: f32sOf(t, peft, pre+"divisor")[0]}, nil
	}
	s, err := FromReference(cfg, state, theta, said)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([][]float32, len(proj))
	for i := range dst {
		dst[i] = make([]float32, proj[i].Numel)
	}
	if err := s.Apply(dst, theta0); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, p := range proj {
		pr := s.Projection(i)
		if pr.L() != p.LL {
			t.Errorf("%s: L = %d, reference LL = %d", p.Name, pr.L(), p.LL)
		}
		st := stateOf(pr)
		var g2 float64
		for _, g := range st.g {
			g2 += g * g
		}
		if want := math.Sqrt(float64(p.LL) * g2); math.Abs(st.divisor-want) > 1e-6*want {
			t.Errorf("%s: divisor %g, √(LL·ΣG²) = %g", p.Name, st.divisor, want)
		}
		ref := refForward(st, to64(theta))
		y := make([]float32, p.Numel)
		if err := pr.Forward(y, theta, nil); err != nil {
			t.Fatal(err)
		}
		tol := 2e-7 * float64(pr.logL+pr.logM+2)
		if e := relErr(y, ref); e > tol {
			t.Errorf("%s: projection relative error %g > %g", p.Name, e, tol)
		}
		delta := make([]float32, p.Numel)
		for j := range delta {
			delta[j] = float32(float64(dst[i][j]) - float64(theta0[i][j]))
			ref[j] *= float64(said[i])
		}
		e := relErr(delta, ref)
		worst = max(worst, e)
		if e > 1e-5 {
			t.Errorf("%s: θ−θ0 relative error %g against λ·P(θ_d) > 1e-5", p.Name, e)
		}
	}
	t.Logf("%d tensors, worst relative error of θ−θ0: %.2g", len(proj), worst)
}

// TestReferenceSubset checks five tensors of refdata/peft/intrinsic-said
// (copied to testdata): padding (D=3072, LL=4096), exact powers of two and
// truncation (D=32 < d=152).
func TestReferenceSubset(t *testing.T) {
	st, md := loadST(t, "../testdata/fastfood/said-subset.safetensors")
	var proj []projected
	if err := json.Unmarshal([]byte(md["projected"]), &proj); err != nil {
		t.Fatal(err)
	}
	if len(proj) != 5 {
		t.Fatalf("%d projected tensors in testdata, want 5", len(proj))
	}
	checkReference(t, st, st, "theta0/", proj)
}

// TestReferenceFull checks every projected tensor of the full reference
// files when /work/shared is present.
func TestReferenceFull(t *testing.T) {
	const dir = "../../shared/refdata/peft/intrinsic-said/"
	if _, err := os.Stat(dir + "peft.safetensors"); err != nil {
		t.Skip("reference files not present (../shared/refdata): the testdata subset is checked by TestReferenceSubset")
	}
	var cfg struct {
		Intrinsic struct {
			Projected []projected `json:"projected"`
		} `json:"intrinsic"`
	}
	b, err := os.ReadFile(dir + "peft.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	peft, _ := loadST(t, dir+"peft.safetensors")
	model, _ := loadST(t, dir+"model.safetensors")
	checkReference(t, peft, model, "", cfg.Intrinsic.Projected)
}

var saidTensors = []Tensor{{"a", 37}, {"b", 300}, {"c", 5}, {"d", 1024}}

// TestSAIDGradient checks Backward against central finite differences of
// a float64 loss ℓ = Σ c·θ + ½θ², θ from the float64 formula, for θ_d and
// λ (per tensor, state v2) and θ_d (global, state v1).
func TestSAIDGradient(t *testing.T) {
	for _, global := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(7, 8))
		state := StateV2
		if global {
			state = StateV1
		}
		s, err := NewSAID(Config{Dim: 40, Tensors: saidTensors, Seed: 3, Global: global, State: state})
		if err != nil {
			t.Fatal(err)
		}
		s.Theta = randVec(rng, len(s.Theta))
		for i := range s.Lambda {
			s.Lambda[i] = 1 + 0.2*float32(rng.NormFloat64())
		}
		theta0, c := make([][]float64, len(saidTensors)), make([][]float64, len(saidTensors))
		for i, tt := range saidTensors {
			theta0[i], c[i] = to64(randVec(rng, tt.Size)), to64(randVec(rng, tt.Size))
		}
		var states []refState
		for i := range len(s.proj) {
			states = append(states, stateOf(s.Projection(i)))
		}
		// weights returns θ_i in float64 for θ_d = th, λ = lam.
		weights := func(th, lam []float64) [][]float64 {
			w := make([][]float64, len(saidTensors))
			if global {
				all := refForward(states[0], th)
				for i, o := range s.offsets {
					w[i] = all[o : o+saidTensors[i].Size]
				}
			}
			for i := range w {
				if !global {
					w[i] = refForward(states[i], th)
					for j := range w[i] {
						w[i][j] *= lam[i]
					}
				}
				for j := range w[i] {
					w[i][j] += theta0[i][j]
				}
			}
			return w
		}
		loss := func(th, lam []float64) float64 {
			var l float64
			for i, wi := range weights(th, lam) {
				for j, v := range wi {
					l += c[i][j]*v + v*v/2
				}
			}
			return l
		}
		th, lam := to64(s.Theta), to64(s.Lambda)
		grad := make([][]float32, len(saidTensors))
		for i, wi := range weights(th, lam) {
			grad[i] = make([]float32, len(wi))
			for j, v := range wi {
				grad[i][j] = float32(c[i][j] + v)
			}
		}
		dTheta, dLambda := make([]float32, len(s.Theta)), make([]float32, len(s.Lambda))
		if err := s.Backward(grad, dTheta, dLambda); err != nil {
			t.Fatal(err)
		}
		const h = 1e-3
		fd := func(v []float64, j int) float64 {
			old := v[j]
			v[j] = old + h
			lp := loss(th, lam)
			v[j] = old - h
			lm := loss(th, lam)
			v[j] = old
			return (lp - lm) / (2 * h)
		}
		num := make([]float64, len(th))
		for j := range th {
			num[j] = fd(th, j)
		}
		if e := relErr(dTheta, num); e > 1e-5 {
			t.Errorf("global=%v: dθ_d relative error %g against finite differences", global, e)
		}
		if !global {
			num := make([]float64, len(lam))
			for j := range lam {
				num[j] = fd(lam, j)
			}
			if e := relErr(dLambda, num); e > 1e-5 {
				t.Errorf("dλ relative error %g against finite differences", e)
			}
		}
	}
}

// TestSAIDReload holds a model rebuilt from its seed, θ_d and λ to the same
// weights bit for bit, whatever the thread count, and a different seed to
// different weights.
func TestSAIDReload(t *testing.T) {
	for _, global := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(9, 10))
		theta0 := make([][]float32, len(saidTensors))
		for i, tt := range saidTensors {
			theta0[i] = randVec(rng, tt.Size)
		}
		apply := func(seed uint64, threads int, theta, lambda []float32) [][]float32 {
			s, err := NewSAID(Config{Dim: 100, Tensors: saidTensors, Seed: seed, Global: global, Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			if s.StateBytes() != 0 {
				t.Fatalf("seeded model keeps %d bytes of state", s.StateBytes())
			}
			copy(s.Theta, theta)
			copy(s.Lambda, lambda)
			dst := make([][]float32, len(theta0))
			for i := range dst {
				dst[i] = make([]float32, len(theta0[i]))
			}
			if err := s.Apply(dst, theta0); err != nil {
				t.Fatal(err)
			}
			return dst
		}
		theta, lambda := randVec(rng, ThetaLen(Config{Dim: 100, Tensors: saidTensors, Global: global})), randVec(rng, len(saidTensors))
		a, b, c := apply(42, 1, theta, lambda), apply(42, 3, theta, lambda), apply(43, 1, theta, lambda)
		same := true
		for i := range a {
			for j := range a[i] {
				if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
					t.Fatalf("global=%v: tensor %d [%d]: %v after reload, was %v", global, i, j, b[i][j], a[i][j])
				}
				same = same && a[i][j] == c[i][j]
			}
		}
		if same {
			t.Errorf("global=%v: seeds 42 and 43 give the same weights", global)
		}
	}
}

func TestSAIDErrors(t *testing.T) {
	bad := []Config{
		{Dim: 10},
		{Dim: 3, Tensors: saidTensors},
		{Dim: 100, Tensors: []Tensor{{"x", 0}}},
		{Dim: 100, Tensors: saidTensors, State: 3},
		{Dim: 100, Tensors: saidTensors, State: -1},
	}
	for _, cfg := range bad {
		if _, err := NewSAID(cfg); !errors.Is(err, kernels.ErrShape) {
			t.Errorf("NewSAID(%+v): %v, want ErrShape", cfg, err)
		}
	}
	s, err := NewSAID(Config{Dim: 100, Tensors: saidTensors})
	if err != nil {
		t.Fatal(err)
	}
	if s.Config().State != LatestState {
		t.Errorf("Config().State = %v, want the resolved latest %v", s.Config().State, LatestState)
	}
	if _, err := NewVersion(10, 20, 1, 9); err == nil {
		t.Error("NewVersion with version 9 succeeded")
	}
	short := [][]float32{make([]float32, 37)}
	if err := s.Apply(short, short); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("Apply with one tensor: %v", err)
	}
	grad := make([][]float32, len(saidTensors))
	for i, tt := range saidTensors {
		grad[i] = make([]float32, tt.Size)
	}
	if err := s.Backward(grad, make([]float32, 3), make([]float32, len(saidTensors))); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("Backward with short dTheta: %v", err)
	}
	if _, err := FromReference(Config{Tensors: saidTensors}, nil, make([]float32, 10), make([]float32, 2)); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("FromReference with 2 scalars: %v", err)
	}
}
