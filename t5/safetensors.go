package t5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/nlpodyssey/safetensors"
)

// ErrCheckpoint reports a missing, corrupt or mismatching checkpoint tensor.
var ErrCheckpoint = errors.New("t5: bad checkpoint")

// TensorFile is a safetensors file opened for reading, memory-mapped.
type TensorFile struct {
	path    string
	st      safetensors.SafeTensors
	meta    map[string]string
	release func() error
}

// OpenTensors maps and parses a safetensors file. A truncated or corrupt
// file is an error wrapping ErrCheckpoint. Close releases the mapping.
func OpenTensors(path string) (*TensorFile, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	st, err := safetensors.Deserialize(data)
	if err != nil {
		release()
		return nil, fmt.Errorf("%w: %s: %v (truncated or corrupt file?)", ErrCheckpoint, path, err)
	}
	// Deserialize keeps the header's metadata to itself: parse the
	// (small) header once more for Metadata.
	_, md, err := safetensors.ReadMetadata(data)
	if err != nil {
		release()
		return nil, fmt.Errorf("%w: %s: %v", ErrCheckpoint, path, err)
	}
	return &TensorFile{path: path, st: st, meta: md.Metadata(), release: release}, nil
}

// Metadata returns a copy of the string map stored under __metadata__ in
// the file's header (what WriteTensors was given; nil when the header has
// none). It stays valid after Close.
func (f *TensorFile) Metadata() map[string]string { return maps.Clone(f.meta) }

// Close unmaps the file; tensors read from it stay valid (they are copies).
func (f *TensorFile) Close() error { return f.release() }

// Names lists the tensors of the file, sorted.
func (f *TensorFile) Names() []string {
	n := f.st.Names()
	slices.Sort(n)
	return n
}

// Has reports whether the file holds the tensor.
func (f *TensorFile) Has(name string) bool {
	_, ok := f.st.Tensor(name)
	return ok
}

// Shape returns the shape of a tensor.
func (f *TensorFile) Shape(name string) ([]int, error) {
	tv, ok := f.st.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s: missing tensor %q", ErrCheckpoint, f.path, name)
	}
	s := make([]int, len(tv.Shape()))
	for i, d := range tv.Shape() {
		s[i] = int(d)
	}
	return s, nil
}

func (f *TensorFile) view(name string, shape []int) (safetensors.TensorView, error) {
	tv, ok := f.st.Tensor(name)
	if !ok {
		return tv, fmt.Errorf("%w: %s: missing tensor %q", ErrCheckpoint, f.path, name)
	}
	if shape != nil {
		got, _ := f.Shape(name)
		if !slices.Equal(got, shape) {
			return tv, fmt.Errorf("%w: %s: tensor %q has shape %v, want %v", ErrCheckpoint, f.path, name, got, shape)
		}
	}
	return tv, nil
}

// Float32 reads a floating-point tensor (F32, F16 or BF16) as float32 and
// checks its shape against want (nil accepts any shape).
func (f *TensorFile) Float32(name string, want []int) ([]float32, error) {
	tv, err := f.view(name, want)
	if err != nil {
		return nil, err
	}
	d := tv.Data()
	switch tv.DType() {
	case safetensors.F32:
		out := make([]float32, len(d)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
		return out, nil
	case safetensors.BF16:
		out := make([]float32, len(d)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16)
		}
		return out, nil
	case safetensors.F16:
		out := make([]float32, len(d)/2)
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(d[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s: tensor %q has dtype %v, want a float type", ErrCheckpoint, f.path, name, tv.DType())
}

// Int32 reads an integer tensor (I64 or I32) as int32 and checks its shape
// against want (nil accepts any shape).
func (f *TensorFile) Int32(name string, want []int) ([]int32, error) {
	tv, err := f.view(name, want)
	if err != nil {
		return nil, err
	}
	d := tv.Data()
	switch tv.DType() {
	case safetensors.I64:
		out := make([]int32, len(d)/8)
		for i := range out {
			v := int64(binary.LittleEndian.Uint64(d[8*i:]))
			if v != int64(int32(v)) {
				return nil, fmt.Errorf("%w: %s: tensor %q: value %d overflows int32", ErrCheckpoint, f.path, name, v)
			}
			out[i] = int32(v)
		}
		return out, nil
	case safetensors.I32:
		out := make([]int32, len(d)/4)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(d[4*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s: tensor %q has dtype %v, want an integer type", ErrCheckpoint, f.path, name, tv.DType())
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0: // zero or subnormal: mant·2^-24
		v := float32(math.Ldexp(float64(mant), -24))
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// Tensor is a named float32 or int32 array to write with WriteTensors.
type Tensor struct {
	Shape []int
	F32   []float32 // exactly one of F32 and I32 is set
	I32   []int32
}

type stView struct {
	dt    safetensors.DType
	shape []uint64
	data  []byte
}

func (v stView) DType() safetensors.DType { return v.dt }
func (v stView) Shape() []uint64          { return v.shape }
func (v stView) Data() []byte             { return v.data }
func (v stView) DataLen() uint64          { return uint64(len(v.data)) }

// WriteTensors writes tensors as a safetensors file with the given header
// metadata (may be nil).
func WriteTensors(path string, tensors map[string]Tensor, metadata map[string]string) error {
	views := make(map[string]stView, len(tensors))
	for name, t := range tensors {
		n := 1
		shape := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			n *= d
			shape[i] = uint64(d)
		}
		var v stView
		switch {
		case t.F32 != nil && len(t.F32) == n:
			v = stView{safetensors.F32, shape, make([]byte, 4*n)}
			for i, x := range t.F32 {
				binary.LittleEndian.PutUint32(v.data[4*i:], math.Float32bits(x))
			}
		case t.I32 != nil && len(t.I32) == n:
			v = stView{safetensors.I32, shape, make([]byte, 4*n)}
			for i, x := range t.I32 {
				binary.LittleEndian.PutUint32(v.data[4*i:], uint32(x))
			}
		default:
			return fmt.Errorf("t5: tensor %q: data length does not match shape %v", name, t.Shape)
		}
		views[name] = v
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	if err := safetensors.SerializeToWriter(views, metadata, f); err != nil {
		f.Close()
		return fmt.Errorf("t5: writing %s: %w", path, err)
	}
	return f.Close()
}
