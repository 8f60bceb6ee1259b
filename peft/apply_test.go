package peft

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

// TestProject sets Intrinsic-SAID's θ_d and λ by hand: Project must give
// the base tensors that LoadTensors of the same values gives, and θ0 back
// for θ_d = 0; for another method it changes nothing.
func TestProject(t *testing.T) {
	be := openBackend(t, "cpu")
	apply := func(meth Method) *Applied {
		m, _ := loadBase(t, be)
		c, err := Default(meth)
		if err != nil {
			t.Fatal(err)
		}
		c.IntrinsicDim = 120
		a, err := Apply(m, c, 42)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Remove() })
		return a
	}
	weights := func(a *Applied) [][]float32 {
		var w [][]float32
		for _, p := range a.Model.Params {
			w = append(w, kerneltest.Download(t, be, p.W))
		}
		return w
	}
	a := apply(IntrinsicSAID)
	theta0 := weights(a)
	vals := map[string]t5.Tensor{}
	for _, p := range a.Trainables {
		v := kerneltest.Download(t, be, p.W)
		for i := range v {
			v[i] += float32(math.Sin(float64(i+1))) * 0.1
		}
		if err := be.Upload(p.W, v); err != nil {
			t.Fatal(err)
		}
		vals[p.Name] = t5.Tensor{Shape: p.Shape, F32: v}
	}
	for i, w := range weights(a) {
		if p := a.Model.Params[i]; p.Derived && !slices.Equal(w, theta0[i]) {
			t.Fatalf("%s: changing θ_d and λ changed it before Project", p.Name)
		}
	}
	if err := a.Project(); err != nil {
		t.Fatal(err)
	}
	got := weights(a)
	path := filepath.Join(t.TempDir(), "said.safetensors")
	if err := t5.WriteTensors(path, vals, nil); err != nil {
		t.Fatal(err)
	}
	b := apply(IntrinsicSAID)
	if err := b.LoadTensors(path); err != nil {
		t.Fatal(err)
	}
	want := weights(b)
	moved := 0
	for i, p := range a.Model.Params {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("%s: Project and LoadTensors differ", p.Name)
		}
		if !p.Derived {
			continue
		}
		if !slices.Equal(got[i], theta0[i]) {
			moved++
		}
	}
	if moved == 0 {
		t.Error("Project left every base tensor at θ0")
	}
	theta := a.Model.Param("intrinsic_parameter")
	if err := be.Fill(theta.W, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Project(); err != nil {
		t.Fatal(err)
	}
	for i, p := range a.Model.Params {
		if p.Derived && !slices.Equal(kerneltest.Download(t, be, p.W), theta0[i]) {
			t.Errorf("%s: θ_d = 0 does not give θ0 back", p.Name)
		}
	}

	c := apply(BitFit)
	before := weights(c)
	if err := c.Project(); err != nil || !slices.EqualFunc(before, weights(c), slices.Equal) {
		t.Errorf("Project of BitFit: %v, or it changed the weights", err)
	}
}
