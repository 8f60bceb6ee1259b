package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// FromDense allocates a buffer on b holding the elements of t (float32 or
// int32) in logical row-major order — views, slices and transposes are
// gathered — and returns it with t's shape (empty for a scalar).
func FromDense(b Backend, t *tensor.Dense) (Buffer, []int, error) {
	if t == nil {
		return nil, nil, fmt.Errorf("kernels: FromDense of nil tensor: %w", ErrShape)
	}
	if !t.IsNativelyAccessible() {
		return nil, nil, fmt.Errorf("kernels: FromDense: tensor memory is not accessible from Go")
	}
	shape := append([]int(nil), t.Shape()...)
	if t.IsScalar() {
		shape = nil
	}
	switch data := t.Data().(type) {
	case []float32:
		return upload(b, Float32, gather(t, data), b.Upload, shape)
	case []int32:
		return upload(b, Int32, gather(t, data), b.UploadInt32, shape)
	case float32:
		return upload(b, Float32, []float32{data}, b.Upload, shape)
	case int32:
		return upload(b, Int32, []int32{data}, b.UploadInt32, shape)
	}
	return nil, nil, fmt.Errorf("kernels: FromDense: dtype %v not supported (want float32 or int32): %w", t.Dtype(), ErrDType)
}

func upload[T any](b Backend, dt DType, data []T, up func(Buffer, []T) error, shape []int) (Buffer, []int, error) {
	buf, err := b.Alloc(dt, len(data))
	if err != nil {
		return nil, nil, err
	}
	if err := up(buf, data); err != nil {
		_ = b.Free(buf)
		return nil, nil, err
	}
	return buf, shape, nil
}

// gather returns the elements of t in logical row-major order: data itself
// when t is a plain row-major tensor, else a copy made with t's iterator
// (which yields storage indices in logical order).
func gather[T any](t *tensor.Dense, data []T) []T {
	if !t.IsView() && !t.IsMaterializable() && t.DataOrder().IsRowMajor() && len(data) == t.Shape().TotalSize() {
		return data
	}
	out := make([]T, 0, t.Shape().TotalSize())
	it := t.Iterator()
	for i, err := it.Start(); err == nil; i, err = it.Next() {
		out = append(out, data[i])
	}
	return out
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
