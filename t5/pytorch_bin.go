package t5

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// PyTorchFile is a PyTorch checkpoint (torch.save of a state dict, as in a
// Hugging Face pytorch_model.bin) opened for reading, without Python. Both
// of torch's formats are read: the zip archive of torch ≥ 1.6 and the
// legacy stream of earlier versions. Only the pickle opcodes and globals
// that torch.save writes for a state dict of tensors are accepted (see
// ErrUnsafePickle): a checkpoint that would run code when loaded by
// torch.load is refused, naming the global. Tensor data is read when asked
// for, so opening a file costs only its pickle.
type PyTorchFile struct {
	path    string
	tensors map[string]*ptTensor
	closer  io.Closer
}

// ptDType is a storage's element type.
type ptDType struct {
	name string // the safetensors spelling: F32, F16, …
	size int    // bytes per element
}

var (
	ptF32  = &ptDType{"F32", 4}
	ptF16  = &ptDType{"F16", 2}
	ptBF16 = &ptDType{"BF16", 2}
	ptF64  = &ptDType{"F64", 8}
)

// storageDTypes maps torch's storage class names to their element types.
var storageDTypes = map[string]*ptDType{
	"FloatStorage": ptF32, "HalfStorage": ptF16, "BFloat16Storage": ptBF16, "DoubleStorage": ptF64,
	"LongStorage": {"I64", 8}, "IntStorage": {"I32", 4}, "ShortStorage": {"I16", 2},
	"CharStorage": {"I8", 1}, "ByteStorage": {"U8", 1}, "BoolStorage": {"BOOL", 1},
}

// storageClass stands for a torch.*Storage global.
type storageClass struct{ dt *ptDType }

// ptStorage is one storage of a checkpoint: numel elements of dt, whose
// bytes are at off in r (raw) or in a compressed zip entry (zf).
type ptStorage struct {
	key   string
	dt    *ptDType
	numel int64
	r     io.ReaderAt
	off   int64
	zf    *zip.File
}

// ptTensor is a strided view of a storage, as _rebuild_tensor_v2 builds it.
type ptTensor struct {
	s      *ptStorage
	offset int64
	shape  []int
	stride []int64
}

// maxTensorDims bounds the rank of a tensor (PyTorch's own limit is 64).
const maxTensorDims = 64

// rebuildTensorV2 stands for torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
type rebuildTensorV2 struct{}

func (rebuildTensorV2) Call(args ...any) (any, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2 with %d arguments, want 6 or 7", ErrCheckpoint, len(args))
	}
	s, ok := args[0].(*ptStorage)
	if !ok {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2 of a %T, want a storage", ErrCheckpoint, args[0])
	}
	off, ok := args[1].(int)
	if !ok || off < 0 {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2 storage offset %v", ErrCheckpoint, args[1])
	}
	size, err := intTuple(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) || len(size) > maxTensorDims {
		return nil, fmt.Errorf("%w: tensor of size %v has strides %v (at most %d dimensions)", ErrCheckpoint, size, stride, maxTensorDims)
	}
	if _, ok := args[4].(bool); !ok {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2 requires_grad %v is not a bool", ErrCheckpoint, args[4])
	}
	t := &ptTensor{s: s, offset: int64(off), shape: make([]int, len(size)), stride: make([]int64, len(size))}
	empty := false
	for i := range size {
		if size[i] < 0 || stride[i] < 0 {
			return nil, fmt.Errorf("%w: tensor of size %v and strides %v", ErrCheckpoint, size, stride)
		}
		t.shape[i], t.stride[i] = size[i], int64(stride[i])
		empty = empty || size[i] == 0
	}
	if empty {
		return t, nil
	}
	// The view must lie inside the storage, and its elements must not
	// overlap (no stride-0 broadcasts): it then has at most as many
	// elements as the bytes it spans, which bounds what Float32 allocates.
	if int64(off) >= s.numel {
		return nil, fmt.Errorf("%w: tensor offset %d past its storage of %d elements", ErrCheckpoint, off, s.numel)
	}
	numel, last := int64(1), int64(off)
	for i := range size {
		if int64(size[i]) > s.numel/numel {
			return nil, fmt.Errorf("%w: tensor of size %v has more elements than its storage (%d)", ErrCheckpoint, size, s.numel)
		}
		numel *= int64(size[i])
		if size[i] > 1 {
			if stride[i] > 0 && int64(size[i]-1) > (s.numel-1-last)/int64(stride[i]) {
				return nil, fmt.Errorf("%w: tensor of size %v, strides %v at offset %d overruns its storage of %d elements", ErrCheckpoint, size, stride, off, s.numel)
			}
			last += int64(size[i]-1) * int64(stride[i])
		}
	}
	if numel > last-int64(off)+1 {
		return nil, fmt.Errorf("%w: tensor of size %v and strides %v has overlapping elements (unsupported)", ErrCheckpoint, size, stride)
	}
	return t, nil
}

// rebuildParameter stands for torch._utils._rebuild_parameter(data,
// requires_grad, backward_hooks): an nn.Parameter is read as its tensor.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("%w: _rebuild_parameter with %d arguments, want 3", ErrCheckpoint, len(args))
	}
	t, ok := args[0].(*ptTensor)
	if !ok {
		return nil, fmt.Errorf("%w: _rebuild_parameter of a %T, want a tensor", ErrCheckpoint, args[0])
	}
	return t, nil
}

func intTuple(v any, what string) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%w: tensor %s %v is not a tuple", ErrCheckpoint, what, v)
	}
	out := make([]int, t.Len())
	for i := range out {
		n, ok := t.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("%w: tensor %s %v is not a tuple of ints", ErrCheckpoint, what, v)
		}
		out[i] = n
	}
	return out, nil
}

// unpickle scans and then runs one pickle of data with gopickle, the
// globals restricted to the allow-list and persistent ids resolved by pid
// (nil: none allowed). The scan (scanPickle) keeps gopickle from the inputs
// known to make it panic or allocate without bound; what panics remain
// (such as a dict key of an unhashable type) become errors here.
//
// gopickle resolves three globals itself without asking FindClass:
// collections.OrderedDict (allowed anyway), __builtin__.object and
// copy_reg._reconstructor (inert Go values that can only instantiate
// classes FindClass returned). The scanner refuses the last two when a
// GLOBAL or INST names them, or a STACK_GLOBAL with literal names; and
// stateDict refuses any value that is not a tensor.
func unpickle(data []byte, pid func(any) (any, error)) (v any, err error) {
	n, err := scanPickle(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: malformed pickle: %v", ErrCheckpoint, r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data[:n]))
	u.FindClass = allowedGlobal
	u.PersistentLoad = func(id any) (any, error) {
		if pid == nil {
			return nil, fmt.Errorf("%w: unexpected persistent id in pickle", ErrCheckpoint)
		}
		return pid(id)
	}
	v, err = u.Load()
	if err != nil && !errors.Is(err, ErrCheckpoint) {
		err = fmt.Errorf("%w: malformed pickle: %v", ErrCheckpoint, err)
	}
	return v, err
}

// storageID checks a persistent id ('storage', class, key, location,
// numel[, view_metadata]) and returns its parts.
func storageID(id any, legacy bool) (dt *ptDType, key string, numel int64, err error) {
	t, ok := id.(*types.Tuple)
	want := 5
	if legacy {
		want = 6
	}
	if !ok || t.Len() != want {
		return nil, "", 0, fmt.Errorf("%w: persistent id %v, want a %d-tuple ('storage', …)", ErrCheckpoint, id, want)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, "", 0, fmt.Errorf("%w: persistent id of type %v, want 'storage'", ErrCheckpoint, t.Get(0))
	}
	sc, ok1 := t.Get(1).(storageClass)
	key, ok2 := t.Get(2).(string)
	_, ok3 := t.Get(3).(string)
	n, ok4 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 || n < 0 {
		return nil, "", 0, fmt.Errorf("%w: malformed storage id %v", ErrCheckpoint, id)
	}
	if legacy && t.Get(5) != nil {
		return nil, "", 0, fmt.Errorf("%w: storage %q is a view of another storage (unsupported legacy layout)", ErrCheckpoint, key)
	}
	return sc.dt, key, int64(n), nil
}

// OpenPyTorch opens a PyTorch checkpoint file written by torch.save of a
// state dict (a dict of name → tensor, such as pytorch_model.bin). A file
// that is not such a checkpoint, is corrupt, or refers to a global outside
// the allow-list is an error wrapping ErrCheckpoint (ErrUnsafePickle for
// the last). Close releases the file.
func OpenPyTorch(path string) (*PyTorchFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	tensors, err := readPyTorch(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &PyTorchFile{path: path, tensors: tensors, closer: f}, nil
}

// readPyTorch parses a checkpoint of size bytes in r.
func readPyTorch(r io.ReaderAt, size int64) (map[string]*ptTensor, error) {
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, fmt.Errorf("%w: not a PyTorch checkpoint (%v)", ErrCheckpoint, err)
	}
	switch {
	case string(head[:]) == "PK\x03\x04":
		return readPyTorchZip(r, size)
	case head[0] == 0x80:
		return readPyTorchLegacy(r, size)
	}
	return nil, fmt.Errorf("%w: not a PyTorch checkpoint (neither torch's zip nor its legacy format)", ErrCheckpoint)
}

func readPyTorchZip(r io.ReaderAt, size int64) (map[string]*ptTensor, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	records := map[string]*zip.File{}
	var pkl []string
	for _, f := range zr.File {
		records[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			pkl = append(pkl, f.Name)
		}
	}
	if len(pkl) != 1 {
		return nil, fmt.Errorf("%w: zip archive with %d top-level data.pkl records, want 1 (not a torch.save checkpoint)", ErrCheckpoint, len(pkl))
	}
	prefix := path.Dir(pkl[0]) + "/"
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, fmt.Errorf("%w: a TorchScript archive, not a state dict", ErrCheckpoint)
	}
	if bo, ok := records[prefix+"byteorder"]; ok {
		b, err := readEntry(bo, 16)
		if err != nil {
			return nil, err
		}
		if s := string(b); s != "little" {
			return nil, fmt.Errorf("%w: byte order %q, only little-endian checkpoints are supported", ErrCheckpoint, s)
		}
	}
	data, err := readEntry(records[pkl[0]], maxPickleBytes)
	if err != nil {
		return nil, err
	}
	storages := map[string]*ptStorage{}
	v, err := unpickle(data, func(id any) (any, error) {
		dt, key, numel, err := storageID(id, false)
		if err != nil {
			return nil, err
		}
		if s, ok := storages[key]; ok {
			if s.dt != dt || s.numel != numel {
				return nil, fmt.Errorf("%w: storage %q used as %s[%d] and %s[%d]", ErrCheckpoint, key, s.dt.name, s.numel, dt.name, numel)
			}
			return s, nil
		}
		f, ok := records[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("%w: storage record %sdata/%s missing", ErrCheckpoint, prefix, key)
		}
		if numel > int64(f.UncompressedSize64)/int64(dt.size) {
			return nil, fmt.Errorf("%w: storage %q of %d %s elements, but its record holds %d bytes", ErrCheckpoint, key, numel, dt.name, f.UncompressedSize64)
		}
		s := &ptStorage{key: key, dt: dt, numel: numel, zf: f}
		if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
			off, err := f.DataOffset()
			if err == nil && off >= 0 && int64(f.CompressedSize64) <= size-off {
				s.r, s.off, s.zf = r, off, nil
			}
		}
		storages[key] = s
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return stateDict(v)
}

// readEntry reads a zip record of at most limit bytes.
func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%w: record %s of %d bytes is larger than %d", ErrCheckpoint, f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %v", ErrCheckpoint, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, fmt.Errorf("%w: record %s: %v", ErrCheckpoint, f.Name, err)
	}
	return b, nil
}

// legacyMagic is the number that starts torch's legacy format.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// readPyTorchLegacy reads torch's pre-1.6 format: the pickles of the magic
// number, the protocol version (1001) and the system info, the pickle of
// the object, the pickle of the list of storage keys, then for each key
// the storage's element count (int64) and its bytes.
func readPyTorchLegacy(r io.ReaderAt, size int64) (map[string]*ptTensor, error) {
	var pos int64
	next := func(pid func(any) (any, error)) (any, error) {
		n, err := scanPickle(io.NewSectionReader(r, pos, size-pos), min(size-pos, maxPickleBytes))
		if err != nil {
			return nil, err
		}
		data := make([]byte, n)
		if _, err := r.ReadAt(data, pos); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		pos += n
		return unpickle(data, pid)
	}
	magic, err := next(nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("%w: not a PyTorch checkpoint (bad magic number)", ErrCheckpoint)
	}
	if v, err := next(nil); err != nil {
		return nil, err
	} else if v != 1001 {
		return nil, fmt.Errorf("%w: legacy format protocol %v, want 1001", ErrCheckpoint, v)
	}
	info, err := next(nil)
	if err != nil {
		return nil, err
	}
	if d, ok := info.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("%w: a big-endian checkpoint (unsupported)", ErrCheckpoint)
		}
	}
	storages := map[string]*ptStorage{}
	v, err := next(func(id any) (any, error) {
		dt, key, numel, err := storageID(id, true)
		if err != nil {
			return nil, err
		}
		if s, ok := storages[key]; ok {
			if s.dt != dt || s.numel != numel {
				return nil, fmt.Errorf("%w: storage %q used as %s[%d] and %s[%d]", ErrCheckpoint, key, s.dt.name, s.numel, dt.name, numel)
			}
			return s, nil
		}
		s := &ptStorage{key: key, dt: dt, numel: numel, r: r, off: -1}
		storages[key] = s
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	keys, err := next(nil)
	if err != nil {
		return nil, err
	}
	list, ok := keys.(*types.List)
	if !ok {
		return nil, fmt.Errorf("%w: legacy storage keys are a %T, want a list", ErrCheckpoint, keys)
	}
	for _, k := range *list {
		key, _ := k.(string)
		s, ok := storages[key]
		if !ok || s.off >= 0 {
			return nil, fmt.Errorf("%w: legacy storage key %v unknown or repeated", ErrCheckpoint, k)
		}
		var nb [8]byte
		if _, err := r.ReadAt(nb[:], pos); err != nil {
			return nil, fmt.Errorf("%w: storage %q: %v (truncated file?)", ErrCheckpoint, key, err)
		}
		if n := binary.LittleEndian.Uint64(nb[:]); n != uint64(s.numel) {
			return nil, fmt.Errorf("%w: storage %q holds %d elements, its pickle says %d", ErrCheckpoint, key, n, s.numel)
		}
		s.off = pos + 8
		if s.numel > (size-s.off)/int64(s.dt.size) {
			return nil, fmt.Errorf("%w: storage %q of %d elements overruns the file (truncated?)", ErrCheckpoint, key, s.numel)
		}
		pos = s.off + s.numel*int64(s.dt.size)
	}
	for key, s := range storages {
		if s.off < 0 {
			return nil, fmt.Errorf("%w: storage %q has no data", ErrCheckpoint, key)
		}
	}
	return stateDict(v)
}

// stateDict checks that an unpickled object is a dict of name → tensor.
func stateDict(v any) (map[string]*ptTensor, error) {
	out := map[string]*ptTensor{}
	add := func(k, v any) error {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("%w: state dict key %v is not a string", ErrCheckpoint, k)
		}
		t, ok := v.(*ptTensor)
		if !ok {
			return fmt.Errorf("%w: state dict entry %q is a %T, not a tensor", ErrCheckpoint, name, v)
		}
		out[name] = t
		return nil
	}
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			if err := add(entry.Key, entry.Value); err != nil {
				return nil, err
			}
		}
	case *types.Dict:
		for _, e := range *d {
			if err := add(e.Key, e.Value); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%w: the checkpoint holds a %T, not a state dict", ErrCheckpoint, v)
	}
	return out, nil
}

// Close closes the file.
func (f *PyTorchFile) Close() error { return f.closer.Close() }

// Names lists the tensors of the file, sorted.
func (f *PyTorchFile) Names() []string {
	n := make([]string, 0, len(f.tensors))
	for k := range f.tensors {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// Has reports whether the file holds the tensor.
func (f *PyTorchFile) Has(name string) bool { return f.tensors[name] != nil }

// Shape returns the shape of a tensor.
func (f *PyTorchFile) Shape(name string) ([]int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s: missing tensor %q", ErrCheckpoint, f.path, name)
	}
	return slices.Clone(t.shape), nil
}

// DType returns the element type of a tensor in safetensors' spelling
// (F32, F16, BF16, F64, I64, …).
func (f *PyTorchFile) DType(name string) (string, error) {
	t, ok := f.tensors[name]
	if !ok {
		return "", fmt.Errorf("%w: %s: missing tensor %q", ErrCheckpoint, f.path, name)
	}
	return t.s.dt.name, nil
}

// Float32 reads a floating-point tensor (F32, F16, BF16, or F64 rounded to
// nearest) as float32 in row-major order and checks its shape against want
// (nil accepts any shape). Half-precision values widen exactly.
func (f *PyTorchFile) Float32(name string, want []int) ([]float32, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s: missing tensor %q", ErrCheckpoint, f.path, name)
	}
	if want != nil && !slices.Equal(t.shape, want) {
		return nil, fmt.Errorf("%w: %s: tensor %q has shape %v, want %v", ErrCheckpoint, f.path, name, t.shape, want)
	}
	dt := t.s.dt
	var conv func([]byte) float32
	switch dt {
	case ptF32:
		conv = func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
	case ptF16:
		conv = func(b []byte) float32 { return halfToFloat(binary.LittleEndian.Uint16(b)) }
	case ptBF16:
		conv = func(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }
	case ptF64:
		conv = func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }
	default:
		return nil, fmt.Errorf("%w: %s: tensor %q has dtype %s, want a float type", ErrCheckpoint, f.path, name, dt.name)
	}
	numel, last := 1, t.offset
	for i, d := range t.shape {
		numel *= d
		if d > 0 {
			last += int64(d-1) * t.stride[i]
		}
	}
	if numel == 0 {
		return []float32{}, nil
	}
	// Read first: raw has at least numel elements (the view does not
	// overlap), so out is never larger than the data that is there.
	raw, err := t.s.read(t.offset, last+1)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
	}
	out := make([]float32, numel)
	es := int64(dt.size)
	// Walk the elements in row-major order with an odometer over the shape.
	idx := make([]int, len(t.shape))
	var at int64 // element offset from t.offset
	for i := range out {
		out[i] = conv(raw[at*es:])
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			at += t.stride[k]
			if idx[k] < t.shape[k] {
				break
			}
			at -= int64(idx[k]) * t.stride[k]
			idx[k] = 0
		}
	}
	return out, nil
}

// read returns the bytes of elements [from, to) of the storage.
func (s *ptStorage) read(from, to int64) ([]byte, error) {
	es := int64(s.dt.size)
	n := (to - from) * es
	if s.zf == nil {
		b := make([]byte, n)
		if _, err := s.r.ReadAt(b, s.off+from*es); err != nil {
			return nil, fmt.Errorf("%w: storage %q: %v", ErrCheckpoint, s.key, err)
		}
		return b, nil
	}
	rc, err := s.zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: storage %q: %v", ErrCheckpoint, s.key, err)
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, from*es); err != nil {
		return nil, fmt.Errorf("%w: storage %q: %v", ErrCheckpoint, s.key, err)
	}
	// ReadAll grows with the data actually there: a record whose header
	// claims more than it holds costs no more than it holds.
	b, err := io.ReadAll(io.LimitReader(rc, n))
	if err == nil && int64(len(b)) != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("%w: storage %q: %v", ErrCheckpoint, s.key, err)
	}
	return b, nil
}
