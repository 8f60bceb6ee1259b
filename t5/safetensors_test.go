package t5

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

func TestHalfToFloat(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, float32(math.Ldexp(1, -24))},
		{0x8001, -float32(math.Ldexp(1, -24))}, {0x0000, 0}, {0x3555, 0.333251953125},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := halfToFloat(tc.h); got != tc.want {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if v := halfToFloat(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("halfToFloat(NaN) = %v", v)
	}
}

func TestTensorFileDTypes(t *testing.T) {
	bf := make([]byte, 6)
	f16 := make([]byte, 6)
	i64 := make([]byte, 24)
	for i, v := range []float32{1.5, -2, 0.25} {
		binary.LittleEndian.PutUint16(bf[2*i:], uint16(math.Float32bits(v)>>16))
	}
	for i, h := range []uint16{0x3e00, 0xc000, 0x3400} { // 1.5, -2, 0.25
		binary.LittleEndian.PutUint16(f16[2*i:], h)
	}
	for i, v := range []int64{7, -100, 1 << 40} {
		binary.LittleEndian.PutUint64(i64[8*i:], uint64(v))
	}
	data, err := safetensors.Serialize(map[string]stView{
		"bf":  {safetensors.BF16, []uint64{3}, bf},
		"f16": {safetensors.F16, []uint64{3}, f16},
		"i64": {safetensors.I64, []uint64{3}, i64},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []float32{1.5, -2, 0.25}
	for _, name := range []string{"bf", "f16"} {
		got, err := f.Float32(name, []int{3})
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := f.Int32("i64", []int{3}); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("int64 overflow: error %v", err)
	}
	if _, err := f.Float32("i64", nil); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("float read of an int tensor: error %v", err)
	}
	if _, err := f.Float32("bf", []int{1, 3}); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("shape mismatch: error %v", err)
	}
}
