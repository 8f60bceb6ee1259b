package peft

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

// emuFastfood is a backend (the cpu one underneath) that implements
// kernels.FastfoodBackend on the host, straight from the definition of the
// seed's state in kernels.FastfoodSeed: it runs SAID's device path where
// there is no GPU, and checks that the seeds and the table the device path
// hands a backend define the same projections as package fastfood.
type emuFastfood struct {
	kernels.Backend
	t     *testing.T
	calls int
}

var _ kernels.FastfoodBackend = (*emuFastfood)(nil)

func (e *emuFastfood) down(b kernels.Buffer) []float32 {
	if b == nil {
		return nil
	}
	return kerneltest.Download(e.t, e.Backend, b)
}

// fwhtRef is the unnormalised transform by its definition's butterflies.
func fwhtRef(x []float32) {
	for h := 1; h < len(x); h <<= 1 {
		for i := 0; i < len(x); i += 2 * h {
			for j := i; j < i+h; j++ {
				x[j], x[j+h] = x[j]+x[j+h], x[j]-x[j+h]
			}
		}
	}
}

func sign(s kernels.FastfoodSeed, i int, v float32) float32 {
	if s.Negative(i) {
		return -v
	}
	return v
}

func alphaOf(a []float32) float32 {
	if a == nil {
		return 1
	}
	return a[0]
}

func (e *emuFastfood) Fastfood(p kernels.FastfoodParams) error {
	if err := p.Validate(false); err != nil {
		return err
	}
	e.calls++
	s, g, x := p.Seed, e.down(p.Gauss), e.down(p.X)
	l, m := s.L(), s.M()
	u := make([]float32, m)
	for i := range min(s.InDim, l) {
		u[i] = sign(s, i, x[i])
	}
	fwhtRef(u)
	v := make([]float32, l)
	for i := range v {
		v[i] = u[s.Perm(i)&(m-1)] * g[s.GaussIndex(i)]
	}
	fwhtRef(v)
	out, a := make([]float32, s.OutDim), alphaOf(e.down(p.Alpha))
	base := e.down(p.Base)
	for i := range out {
		t := float32(a * float32(s.Scale*v[i]))
		if base != nil {
			t = base[i] + t
		}
		out[i] = t
	}
	return e.Upload(p.Out, out)
}

func (e *emuFastfood) FastfoodAdjoint(p kernels.FastfoodParams) error {
	if err := p.Validate(true); err != nil {
		return err
	}
	e.calls++
	s, g, y := p.Seed, e.down(p.Gauss), e.down(p.X)
	l, m := s.L(), s.M()
	z := make([]float32, l)
	for i := range s.OutDim {
		z[i] = s.Scale * y[i]
	}
	fwhtRef(z)
	u := make([]float32, m)
	for i, v := range z {
		u[s.Perm(i)&(m-1)] += float32(v * g[s.GaussIndex(i)])
	}
	fwhtRef(u)
	out, a := e.down(p.Out), alphaOf(e.down(p.Alpha))
	with := e.down(p.DotWith)
	var dot float64
	for i := range min(s.InDim, l) {
		v := sign(s, i, u[i])
		out[i] += float32(a * v)
		if with != nil {
			dot += float64(v) * float64(with[i])
		}
	}
	if p.Dot != nil {
		d := e.down(p.Dot)
		d[0] += float32(dot)
		if err := e.Upload(p.Dot, d); err != nil {
			return err
		}
	}
	return e.Upload(p.Out, out)
}

// saidStep applies seeded Intrinsic-SAID (random-state version state) to
// the tiny model on be, sets θ_d
// and λ to the given values, projects, runs a forward and backward pass and
// the pullback, and returns every base weight, the gradients of θ_d and λ,
// and the loss.
func saidStep(t *testing.T, be kernels.Backend, state int, theta, lambda []float32) (a *Applied, w [][]float32, dTheta, dLambda []float32, loss float64) {
	t.Helper()
	m, batch := loadBase(t, be)
	c, err := Default(IntrinsicSAID)
	if err != nil {
		t.Fatal(err)
	}
	c.IntrinsicDim = 200 // θ_d of 152 > L = 32 of the smallest tensors
	c.SAIDState = state
	if a, err = Apply(m, c, 42); err != nil {
		t.Fatal(err)
	}
	if theta != nil {
		if err := be.Upload(a.said.theta.W, theta); err != nil {
			t.Fatal(err)
		}
		if err := be.Upload(a.said.lambda.W, lambda); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.said.Project(); err != nil {
		t.Fatal(err)
	}
	for _, p := range a.said.base {
		w = append(w, kerneltest.Download(t, be, p.W))
	}
	ps, err := m.Forward(batch, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Release()
	if err := m.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	if err := ps.Backward(); err != nil {
		t.Fatal(err)
	}
	if err := a.Pullback(); err != nil {
		t.Fatal(err)
	}
	return a, w, kerneltest.Download(t, be, a.said.theta.G), kerneltest.Download(t, be, a.said.lambda.G), ps.Loss
}

// checkSAIDDevice runs saidStep on the cpu backend (the host path) and on
// dev (the device path) with the same random θ_d and λ, and compares the
// projected weights, the loss and the gradients of θ_d and λ; after remove
// the device model must hold θ0 again, bit for bit.
func checkSAIDDevice(t *testing.T, dev kernels.Backend, state int) {
	host := openBackend(t, "cpu")
	a0, _, _, _, _ := saidStep(t, host, state, nil, nil)
	if a0.Config.SAIDState != state {
		t.Fatalf("Apply recorded state version %d, want %d", a0.Config.SAIDState, state)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	theta := make([]float32, a0.said.theta.Len())
	lambda := make([]float32, a0.said.lambda.Len())
	for i := range theta {
		theta[i] = float32(0.5 * rng.NormFloat64())
	}
	for i := range lambda {
		lambda[i] = float32(1 + 0.2*rng.NormFloat64())
	}
	ah, wh, dth, dlh, lossH := saidStep(t, host, state, theta, lambda)
	ad, wd, dtd, dld, lossD := saidStep(t, dev, state, theta, lambda)
	if ah.said.dev != nil {
		t.Fatal("the cpu backend took the device path")
	}
	if ad.said.dev == nil {
		t.Fatal("the FastfoodBackend did not take the device path")
	}
	for i, p := range ah.said.base {
		kerneltest.CloseTo(t, p.Name, wd[i], wh[i], 1e-6, 1e-5)
	}
	if d := math.Abs(lossD - lossH); d > 1e-5*math.Abs(lossH)+1e-6 {
		t.Errorf("loss %v on the device path, %v on the host path", lossD, lossH)
	}
	t.Logf("worst dθ_d %.3g, dλ %.3g (relative to the largest)", kerneltest.CloseTo(t, "dθ_d", dtd, dth, 1e-5*kerneltest.MaxAbs(dth), 0)/kerneltest.MaxAbs(dth), kerneltest.CloseTo(t, "dλ", dld, dlh, 1e-5*kerneltest.MaxAbs(dlh), 0)/kerneltest.MaxAbs(dlh))
	if dlh[len(dlh)-1] != 0 || dld[len(dld)-1] != 0 {
		t.Errorf("gradient of the unused λ entry: %v (host), %v (device), want 0", dlh[len(dlh)-1], dld[len(dld)-1])
	}

	// remove restores θ0 exactly on both paths.
	m := ad.Model
	names := make([]string, len(ad.said.base))
	for i, p := range ad.said.base {
		names[i] = p.Name
	}
	if err := ad.Remove(); err != nil {
		t.Fatal(err)
	}
	ref, _ := loadBase(t, dev)
	for _, n := range names {
		got, want := kerneltest.Download(t, dev, m.Param(n).W), kerneltest.Download(t, dev, ref.Param(n).W)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %v after remove, want θ0 %v", n, i, got[i], want[i])
			}
		}
	}
}

// TestSAIDDevicePath checks SAID's device path (θ0 on the device, the
// projections through kernels.FastfoodBackend) against the host path with
// the emulating backend, so it runs everywhere; the cuda backend follows
// where a GPU is present.
func TestSAIDDevicePath(t *testing.T) {
	for _, state := range []int{1, 2} {
		t.Run(fmt.Sprintf("emulated/state=%d", state), func(t *testing.T) {
			e := &emuFastfood{Backend: openBackend(t, "cpu"), t: t}
			checkSAIDDevice(t, e, state)
			if e.calls == 0 {
				t.Error("the emulated FastfoodBackend was never called")
			}
		})
	}
	t.Run("cuda", func(t *testing.T) {
		be, err := kernels.Open("cuda")
		if err != nil {
			t.Skipf("no cuda backend: %v", err)
		}
		t.Cleanup(func() { be.Close() })
		if _, ok := be.(kernels.FastfoodBackend); !ok {
			t.Fatal("the cuda backend does not implement kernels.FastfoodBackend")
		}
		checkSAIDDevice(t, be, 1)
		checkSAIDDevice(t, be, 2)
	})
}

// TestSAIDDeviceImported checks that loading the reference's explicit
// projections leaves the device path for the host path and still gives the
// reference case's loss.
func TestSAIDDeviceImported(t *testing.T) {
	e := &emuFastfood{Backend: openBackend(t, "cpu"), t: t}
	a, batch := loadCase(t, e, IntrinsicSAID)
	if a.said.dev != nil || !a.said.imported {
		t.Fatalf("imported projections: device path %v, imported %v", a.said.dev != nil, a.said.imported)
	}
	exp, err := t5.OpenTensors(caseDir(IntrinsicSAID) + "/expected.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	want, err := exp.Float32("loss", []int{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := a.Model.Forward(batch, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Release()
	if d := math.Abs(ps.Loss - float64(want[0])); d > 1e-5 {
		t.Errorf("loss = %v, want %v", ps.Loss, want[0])
	}
}
