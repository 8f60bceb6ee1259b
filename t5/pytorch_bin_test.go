package t5

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// binDir is a fixture of testdata/t5/bin (written by make_bin.py with
// torch.save from tiny-gated's weights).
func binDir(c string) string { return filepath.Join("..", "testdata", "t5", "bin", c) }

// loadOutputs loads the checkpoint in dir and returns its parameters and
// its outputs (logits, encoder states, loss, every gradient) on
// tiny-gated's batch.
func loadOutputs(t *testing.T, dir string) (map[string][]float32, map[string]Tensor) {
	t.Helper()
	be := openBackend(t, "purego")
	m, err := Load(dir, be)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	params := map[string][]float32{}
	for _, p := range m.Params {
		w := make([]float32, p.Len())
		if err := be.Download(w, p.W); err != nil {
			t.Fatal(err)
		}
		params[p.Name] = w
	}
	batch, err := LoadBatch(filepath.Join(refDir("tiny-gated"), "batch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Outputs(batch, true)
	if err != nil {
		t.Fatal(err)
	}
	return params, out
}

// sameBits reports the first name whose values differ in any bit.
func sameBits[T interface{ ~[]float32 }](t *testing.T, label string, got, want map[string]T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d tensors, want %d", label, len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: %s missing", label, name)
			continue
		}
		if !slices.EqualFunc(g, w, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("%s: %s differs", label, name)
		}
	}
}

func f32s(m map[string]Tensor) map[string][]float32 {
	out := map[string][]float32{}
	for k, v := range m {
		out[k] = v.F32
	}
	return out
}

// TestPyTorchMatchesSafetensors loads tiny-gated's weights from the
// torch.save fixtures (zip format with views and shared storages, legacy
// format, sharded with nn.Parameter values) and checks that parameters,
// logits, loss and every gradient are bit-identical to those from
// tiny-gated's model.safetensors.
func TestPyTorchMatchesSafetensors(t *testing.T) {
	wantParams, wantOut := loadOutputs(t, refDir("tiny-gated"))
	for _, c := range []string{"f32", "f32-legacy", "f32-sharded"} {
		t.Run(c, func(t *testing.T) {
			params, out := loadOutputs(t, binDir(c))
			sameBits(t, c+" parameters", params, wantParams)
			sameBits(t, c+" outputs", f32s(out), f32s(wantOut))
		})
	}
}

// relErr is ||got-want|| / ||want||.
func relErr(got, want []float32) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d / n)
}

// TestPyTorchHalf loads the F16 and BF16 fixtures: the .bin and the
// safetensors file of the same half-precision tensors (cast by torch) give
// bit-identical parameters and outputs once widened, and those outputs are
// close to the float32 model's: relative error of the parameters at most
// the format's unit roundoff u (2^-11 for F16, 2^-8 for BF16), of every
// output (logits, encoder states, each gradient) at most 10u (measured on
// tiny-gated: F16 logits and states up to 1.0e-3, gradients up to 2.5e-3;
// BF16 6.6e-3 and 1.9e-2).
func TestPyTorchHalf(t *testing.T) {
	f32Params, f32Out := loadOutputs(t, refDir("tiny-gated"))
	for _, c := range []struct {
		name string
		unit float64
	}{{"f16", 0x1p-11}, {"bf16", 0x1p-8}} {
		t.Run(c.name, func(t *testing.T) {
			binParams, binOut := loadOutputs(t, binDir(c.name))
			stParams, stOut := loadOutputs(t, binDir(c.name+"-st"))
			sameBits(t, c.name+" parameters", binParams, stParams)
			sameBits(t, c.name+" outputs", f32s(binOut), f32s(stOut))
			for name, w := range f32Params {
				if e := relErr(binParams[name], w); e > c.unit || e == 0 {
					t.Errorf("%s: %s relative error %.3g, want in (0, %.3g]", c.name, name, e, c.unit)
				}
			}
			worst := map[bool]float64{}
			for name, w := range f32Out {
				if name == "loss" {
					continue
				}
				e := relErr(binOut[name].F32, w.F32)
				grad := strings.HasPrefix(name, "grad/")
				worst[grad] = max(worst[grad], e)
				if e > 10*c.unit {
					t.Errorf("%s: %s relative error %.3g, want <= %.3g", c.name, name, e, 10*c.unit)
				}
			}
			t.Logf("%s vs float32: relative error of logits and encoder states <= %.3g, of gradients <= %.3g; loss %.7g vs %.7g",
				c.name, worst[false], worst[true], binOut["loss"].F32[0], f32Out["loss"].F32[0])
		})
	}
}

// TestPyTorchFileViews checks the tensors of the f32 fixture one by one
// against model.safetensors, including the tied copies that share
// shared.weight's storage, the views at a storage offset and the
// transposed (non-contiguous) one.
func TestPyTorchFileViews(t *testing.T) {
	ref, err := OpenTensors(filepath.Join(refDir("tiny-gated"), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, c := range []string{"f32", "f32-legacy"} {
		f, err := OpenPyTorch(filepath.Join(binDir(c), "pytorch_model.bin"))
		if err != nil {
			t.Fatal(err)
		}
		want := append(ref.Names(), "decoder.embed_tokens.weight", "encoder.embed_tokens.weight")
		slices.Sort(want)
		if got := f.Names(); !slices.Equal(got, want) {
			t.Errorf("%s: names %v, want %v", c, got, want)
		}
		for _, name := range f.Names() {
			src := name
			if strings.HasSuffix(name, "embed_tokens.weight") {
				src = "shared.weight"
			}
			shape, _ := ref.Shape(src)
			w, err := ref.Float32(src, shape)
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := f.Shape(name); !slices.Equal(s, shape) {
				t.Errorf("%s: %s shape %v, want %v", c, name, s, shape)
			}
			if dt, _ := f.DType(name); dt != "F32" {
				t.Errorf("%s: %s dtype %s", c, name, dt)
			}
			g, err := f.Float32(name, shape)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(g, w) {
				t.Errorf("%s: %s differs from model.safetensors", c, name)
			}
		}
		if _, err := f.Float32("shared.weight", []int{1, 2}); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "shape") {
			t.Errorf("%s: shape mismatch: %v", c, err)
		}
		if _, err := f.Float32("nope", nil); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("%s: missing tensor: %v", c, err)
		}
		f.Close()
	}
}

// TestPyTorchRefusesCode opens pickles that would run code under
// torch.load (os.system through GLOBAL and through STACK_GLOBAL,
// builtins.eval in the legacy format): each is refused with an error
// naming the global, and Load refuses the directory.
func TestPyTorchRefusesCode(t *testing.T) {
	for file, global := range map[string]string{
		"pytorch_model.bin": "posix.system",
		"stack-global.bin":  "posix.system",
		"eval-legacy.bin":   "__builtin__.eval", // protocol 2 spells builtins the Python 2 way
	} {
		_, err := OpenPyTorch(filepath.Join(binDir("malicious"), file))
		if !errors.Is(err, ErrUnsafePickle) || !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "global "+global+",") {
			t.Errorf("%s: error %v, want ErrUnsafePickle naming %s", file, err, global)
		}
	}
	be := openBackend(t, "purego")
	m, err := Load(binDir("malicious"), be)
	if err == nil {
		m.Close()
		t.Fatal("Load of a malicious checkpoint: no error")
	}
	if !errors.Is(err, ErrUnsafePickle) || !strings.Contains(err.Error(), "posix.system") {
		t.Errorf("Load: %v", err)
	}
	if be.Mem().InUse != 0 {
		t.Errorf("%d bytes still allocated after the refused load", be.Mem().InUse)
	}
}

// TestPyTorchCorrupt truncates and damages the fixtures: every variant is
// an error wrapping ErrCheckpoint when opened or read, never a panic.
func TestPyTorchCorrupt(t *testing.T) {
	for _, c := range []string{"f32", "f32-legacy", "f16"} {
		data, err := os.ReadFile(filepath.Join(binDir(c), "pytorch_model.bin"))
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(data)/97)
		for n := 0; n < len(data); n += step {
			checkNoPanic(t, data[:n], true)
			d := bytes.Clone(data)
			d[n] ^= 0x5a
			checkNoPanic(t, d, false)
		}
	}
	if _, err := OpenPyTorch(filepath.Join(t.TempDir(), "none.bin")); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("missing file: %v", err)
	}
}

// checkNoPanic opens data as a checkpoint and reads every tensor; with
// mustFail, opening or some read must fail.
func checkNoPanic(t *testing.T, data []byte, mustFail bool) {
	t.Helper()
	tensors, err := readPyTorch(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if !errors.Is(err, ErrCheckpoint) {
			t.Errorf("error %v does not wrap ErrCheckpoint", err)
		}
		return
	}
	f := &PyTorchFile{path: "fuzz", tensors: tensors}
	failed := false
	for _, name := range f.Names() {
		if _, err := f.Float32(name, nil); err != nil {
			failed = true
			if !errors.Is(err, ErrCheckpoint) {
				t.Errorf("error %v does not wrap ErrCheckpoint", err)
			}
		}
	}
	if mustFail && !failed && len(tensors) > 0 {
		// A truncation that keeps the pickle and every storage intact
		// (zip's central directory is at the end, the legacy format's
		// storages too) cannot be: the last bytes hold data.
		t.Errorf("a file truncated to %d bytes read without error", len(data))
	}
}

// TestHalfToFloatExhaustive checks the F16 widening of all 65536 values
// against PyTorch's (torch 1.13 CPU, .half().float()): the SHA-256 of the
// 65536 little-endian float32 results, NaNs written as 0x7fc00000, is
// what this prints:
//
//	/usr/bin/python3 -c "import torch,hashlib
//	h=torch.arange(65536,dtype=torch.int32).to(torch.int16).view(torch.float16).float()
//	b=h.view(torch.int32); b[torch.isnan(h)]=0x7fc00000
//	print(hashlib.sha256(b.numpy().astype('<i4').tobytes()).hexdigest())"
//
// (gopickle's own pytorch.FloatBits16to32 is not used as the reference: it
// is wrong for subnormals, 0x83ff giving -6.1005354e-05 instead of
// -1023·2^-24 = -6.097555e-05.)
func TestHalfToFloatExhaustive(t *testing.T) {
	buf := make([]byte, 4<<16)
	for h := range 1 << 16 {
		v := halfToFloat(uint16(h))
		bits := math.Float32bits(v)
		if math.IsNaN(float64(v)) {
			bits = 0x7fc00000
		} else if exp, mant := h>>10&0x1f, h&0x3ff; exp == 0 && float64(v) != math.Copysign(math.Ldexp(float64(mant), -24), float64(v)) {
			t.Errorf("subnormal 0x%04x: %g", h, v)
		}
		binary.LittleEndian.PutUint32(buf[4*h:], bits)
	}
	const want = "385ff5fe69182797cda5f1827e20cf423f4416bc9246f27d0eec27cac9039259"
	if got := fmt.Sprintf("%x", sha256.Sum256(buf)); got != want {
		t.Errorf("SHA-256 of the widened table %s, want PyTorch's %s", got, want)
	}
	if got := halfToFloat(0x83ff); got != -1023*0x1p-24 {
		t.Errorf("0x83ff: %g", got)
	}
}

// TestScanPickle feeds the scanner the inputs gopickle mishandles: each is
// an error, not a panic or a huge allocation.
func TestScanPickle(t *testing.T) {
	for name, p := range map[string]string{
		"opcode 0xff":        "\x80\x02\xff.",
		"empty LONG1":        "\x80\x02\x8a\x00.",
		"huge BINBYTES8":     "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.",
		"huge FRAME":         "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x01.",
		"huge BINUNICODE":    "\x80\x02X\xff\xff\xff\xff.",
		"negative BINSTRING": "\x80\x02T\xff\xff\xff\xff.",
		"no STOP":            "\x80\x02N",
		"unterminated line":  "\x80\x02I12",
		"protocol 6":         "\x80\x06N.",
		"EXT1":               "\x80\x02\x82\x01.",
		"global os.system":   "cos\nsystem\n.",
		"inst eval":          "(ibuiltins\neval\n.",
	} {
		_, err := unpickle([]byte(p), nil)
		if !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	// Dict keys gopickle cannot hash, and odd SETITEMS: errors through the
	// recover backstop.
	for name, p := range map[string]string{
		"bytes key":    "\x80\x03ccollections\nOrderedDict\n)R(C\x01aNu.",
		"odd setitems": "\x80\x02}(Nu.",
	} {
		if _, err := unpickle([]byte(p), nil); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestPyTorchSmall reads the small fixtures: the zip and legacy files of
// the same state dict (views at offsets, a transposed tensor, a tied
// entry) give the same tensors, and half.bin's F16 and BF16 tensors are
// the float32 ones rounded to the format (within its unit roundoff).
func TestPyTorchSmall(t *testing.T) {
	read := func(file string) map[string][]float32 {
		f, err := OpenPyTorch(filepath.Join(binDir("small"), file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out := map[string][]float32{}
		for _, n := range f.Names() {
			if out[n], err = f.Float32(n, nil); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	z, l := read("zip.bin"), read("legacy.bin")
	sameBits(t, "zip vs legacy", z, l)
	if len(z) != 4 || len(z["a"]) != 6 || len(z["b"]) != 2 || len(z["c"]) != 6 || !slices.Equal(z["a"], z["a2"]) {
		t.Fatalf("small state dict %v", z)
	}
	h := read("half.bin")
	base := append(slices.Clone(z["a"]), z["b"]...) // the 8 values a and b are views of
	for i, v := range h["h"] {
		if d := math.Abs(float64(v-base[i])) / math.Abs(float64(base[i])); d > 0x1p-11 {
			t.Errorf("h[%d] = %g, float32 %g", i, v, base[i])
		}
	}
	for i, v := range h["bf"] {
		if d := math.Abs(float64(v-base[3+i])) / math.Abs(float64(base[3+i])); d > 0x1p-8 || math.Float32bits(v)&0xffff != 0 {
			t.Errorf("bf[%d] = %g, float32 %g", i, v, base[3+i])
		}
	}
}
