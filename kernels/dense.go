package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// FromDense allocates a buffer on b holding the elements of t (float32 or
// int32, in row-major order) and returns it with t's shape.
func FromDense(b Backend, t *tensor.Dense) (Buffer, []int, error) {
	if t == nil {
		return nil, nil, fmt.Errorf("kernels: FromDense of nil tensor: %w", ErrShape)
	}
	if !t.IsNativelyAccessible() {
		return nil, nil, fmt.Errorf("kernels: FromDense: tensor memory is not accessible from Go")
	}
	t = materialize(t)
	shape := append([]int(nil), t.Shape()...)
	switch data := t.Data().(type) {
	case []float32:
		buf, err := b.Alloc(Float32, len(data))
		if err != nil {
			return nil, nil, err
		}
		if err := b.Upload(buf, data); err != nil {
			_ = b.Free(buf)
			return nil, nil, err
		}
		return buf, shape, nil
	case []int32:
		buf, err := b.Alloc(Int32, len(data))
		if err != nil {
			return nil, nil, err
		}
		if err := b.UploadInt32(buf, data); err != nil {
			_ = b.Free(buf)
			return nil, nil, err
		}
		return buf, shape, nil
	case float32:
		return FromDense(b, tensor.New(tensor.WithBacking([]float32{data})))
	}
	return nil, nil, fmt.Errorf("kernels: FromDense: dtype %v not supported (want float32 or int32): %w", t.Dtype(), ErrDType)
}

// materialize returns t with contiguous row-major storage.
func materialize(t *tensor.Dense) *tensor.Dense {
	if t.IsView() || !t.DataOrder().IsRowMajor() {
		return t.Materialize().(*tensor.Dense)
	}
	return t
}

// ToDense downloads buf into a new tensor of the given shape, whose element
// count must equal buf.Len().
func ToDense(b Backend, buf Buffer, shape ...int) (*tensor.Dense, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("kernels: ToDense: negative dimension in %v: %w", shape, ErrShape)
		}
		n *= d
	}
	if buf == nil || n != buf.Len() {
		return nil, fmt.Errorf("kernels: ToDense: shape %v does not hold the buffer's elements: %w", shape, ErrShape)
	}
	switch buf.DType() {
	case Float32:
		data := make([]float32, n)
		if err := b.Download(data, buf); err != nil {
			return nil, err
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
	case Int32:
		data := make([]int32, n)
		if err := b.DownloadInt32(data, buf); err != nil {
			return nil, err
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
	}
	return nil, fmt.Errorf("kernels: ToDense: %v: %w", buf.DType(), ErrDType)
}
