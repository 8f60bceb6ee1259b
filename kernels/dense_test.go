package kernels_test

import (
	"errors"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
)

func TestDenseRoundTrip(t *testing.T) {
	b := cpu.New(cpu.Options{PureGo: true})
	data := []float32{1, 2, 3, 4, 5, 6}
	buf, shape, err := kernels.FromDense(b, tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(slices.Clone(data))))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{2, 3}) || buf.Len() != 6 || buf.DType() != kernels.Float32 {
		t.Fatalf("FromDense: shape %v, len %d, dtype %v", shape, buf.Len(), buf.DType())
	}
	back, err := kernels.ToDense(b, buf, 3, 2) // any shape of the same size
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Shape(), tensor.Shape{3, 2}) || !slices.Equal(back.Data().([]float32), data) {
		t.Errorf("ToDense: shape %v, data %v", back.Shape(), back.Data())
	}
	// The buffer is a copy: changing the tensor afterwards changes nothing.
	back.Data().([]float32)[0] = 99
	again, _ := kernels.ToDense(b, buf, 6)
	if again.Data().([]float32)[0] != 1 {
		t.Error("ToDense shares memory with the buffer")
	}
	if err := b.Free(buf); err != nil {
		t.Error(err)
	}

	// Int32.
	ids := []int32{7, -1, 3}
	ib, shape, err := kernels.FromDense(b, tensor.New(tensor.WithShape(3), tensor.WithBacking(slices.Clone(ids))))
	if err != nil || ib.DType() != kernels.Int32 || !slices.Equal(shape, []int{3}) {
		t.Fatalf("FromDense int32: %v, %v, %v", ib, shape, err)
	}
	it, err := kernels.ToDense(b, ib, 3)
	if err != nil || !slices.Equal(it.Data().([]int32), ids) {
		t.Errorf("ToDense int32: %v, %v", it, err)
	}
}

// TestFromDenseTransposed checks that a transposed tensor, and a slice of
// one, are uploaded in their logical row-major order.
func TestFromDenseTransposed(t *testing.T) {
	b := cpu.New(cpu.Options{PureGo: true})
	m := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	if err := m.T(); err != nil {
		t.Fatal(err)
	}
	buf, shape, err := kernels.FromDense(b, m)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 6)
	if err := b.Download(got, buf); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{3, 2}) || !slices.Equal(got, []float32{1, 4, 2, 5, 3, 6}) {
		t.Errorf("transposed tensor: shape %v, data %v", shape, got)
	}
	s, err := m.Slice(tensor.S(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	sb, shape, err := kernels.FromDense(b, s.(*tensor.Dense))
	if err != nil {
		t.Fatal(err)
	}
	got = make([]float32, sb.Len())
	if err := b.Download(got, sb); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{2, 2}) || !slices.Equal(got, []float32{2, 5, 3, 6}) {
		t.Errorf("sliced transposed tensor: shape %v, data %v", shape, got)
	}
}

func TestDenseErrors(t *testing.T) {
	b := cpu.New(cpu.Options{})
	if _, _, err := kernels.FromDense(b, nil); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("FromDense(nil): %v", err)
	}
	f64 := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2}))
	if _, _, err := kernels.FromDense(b, f64); !errors.Is(err, kernels.ErrDType) {
		t.Errorf("FromDense(float64): %v", err)
	}
	buf, err := b.Alloc(kernels.Float32, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{5}, {2, 4}, {-2, -3}, {7}} {
		if _, err := kernels.ToDense(b, buf, shape...); !errors.Is(err, kernels.ErrShape) {
			t.Errorf("ToDense with shape %v of 6 elements: %v", shape, err)
		}
	}
	if _, err := kernels.ToDense(b, nil, 1); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("ToDense(nil): %v", err)
	}
	other := cpu.New(cpu.Options{})
	if _, err := kernels.ToDense(other, buf, 6); !errors.Is(err, kernels.ErrBackend) {
		t.Errorf("ToDense of a buffer of another backend: %v", err)
	}
}

// TestFromDenseSlice checks a column slice (a strided view).
func TestFromDenseSlice(t *testing.T) {
	b := cpu.New(cpu.Options{PureGo: true})
	m := tensor.New(tensor.WithShape(3, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}))
	s, err := m.Slice(nil, tensor.S(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	buf, shape, err := kernels.FromDense(b, s.(*tensor.Dense))
	if err != nil {
		t.Fatal(err)
	}
	back, err := kernels.ToDense(b, buf, shape...)
	if err != nil || !slices.Equal(shape, []int{3, 2}) || !slices.Equal(back.Data().([]float32), []float32{2, 3, 5, 6, 8, 9}) {
		t.Errorf("column slice: shape %v, data %v, %v", shape, back, err)
	}
}

// TestFromDenseScalar checks a scalar (0-d) tensor.
func TestFromDenseScalar(t *testing.T) {
	b := cpu.New(cpu.Options{PureGo: true})
	sc, shape, err := kernels.FromDense(b, tensor.New(tensor.FromScalar(float32(2.5))))
	if err != nil || sc.Len() != 1 || len(shape) != 0 {
		t.Fatalf("scalar: %v, shape %v, %v", sc, shape, err)
	}
	got := make([]float32, 1)
	if err := b.Download(got, sc); err != nil || got[0] != 2.5 {
		t.Errorf("scalar: %v, %v", got, err)
	}
}
