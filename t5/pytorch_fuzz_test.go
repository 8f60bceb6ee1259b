package t5

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallFixtures lists the small checkpoint files of testdata/t5/bin (small
// and malicious): the model-sized ones would make the fuzzer's
// minimization of each new input crawl.
func smallFixtures(t testing.TB) []string {
	small, _ := filepath.Glob(filepath.Join("..", "testdata", "t5", "bin", "small", "*.bin"))
	bad, _ := filepath.Glob(filepath.Join("..", "testdata", "t5", "bin", "malicious", "*.bin"))
	if len(small) == 0 || len(bad) == 0 {
		t.Fatal("no fixtures in testdata/t5/bin/small or malicious")
	}
	return append(small, bad...)
}

// pickleSeeds returns the pickles of the small fixtures: each zip
// checkpoint's data.pkl, and the pickles of a legacy file one by one.
func pickleSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, p := range smallFixtures(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil { // legacy format: magic, protocol, system info, object, keys
			for k := 0; k < 5 && len(data) > 0; k++ {
				n, err := scanPickle(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					break
				}
				seeds = append(seeds, data[:n])
				data = data[n:]
			}
			continue
		}
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "/data.pkl") {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				seeds = append(seeds, b)
			}
		}
	}
	return seeds
}

// zeroReaderAt reads as zeros.
type zeroReaderAt struct{}

func (zeroReaderAt) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

// FuzzPickle runs the pickle reader (scanner, gopickle behind the
// allow-list, the tensor-rebuild stand-ins, the state-dict check and the
// strided read) on arbitrary bytes, storages of at most 2^16 elements
// reading as zeros: it must return a value or an error wrapping
// ErrCheckpoint, and never panic. The seeds are the fixtures' pickles and
// the inputs of TestScanPickle.
//
//	go test -run '^$' -fuzz FuzzPickle -fuzztime 30s ./t5/
//
// (Go's fuzzer spends most of a short run minimizing each new input;
// -fuzzminimizetime 1s leaves more of it to new inputs.)
func FuzzPickle(f *testing.F) {
	for _, s := range pickleSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{"\x80\x02\xff.", "\x80\x02\x8a\x00.", "\x80\x02}(Nu.", "\x80\x03ccollections\nOrderedDict\n)R(C\x01aNu.",
		"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x01.", "cos\nsystem\n."} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		storages := map[string]*ptStorage{}
		v, err := unpickle(data, func(id any) (any, error) {
			dt, key, numel, err := storageID(id, false)
			if err != nil {
				return nil, err
			}
			if numel > 1<<16 {
				return nil, errors.Join(ErrCheckpoint, errors.New("fuzz: storage too large"))
			}
			if s, ok := storages[key]; ok {
				return s, nil
			}
			s := &ptStorage{key: key, dt: dt, numel: numel, r: zeroReaderAt{}}
			storages[key] = s
			return s, nil
		})
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
			return
		}
		tensors, err := stateDict(v)
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
			return
		}
		pf := &PyTorchFile{path: "fuzz", tensors: tensors}
		for _, name := range pf.Names() {
			if _, err := pf.Float32(name, nil); err != nil && !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
		}
	})
}

// FuzzPyTorchFile runs the whole checkpoint reader (zip or legacy
// container, pickles, storages, every tensor read) on arbitrary bytes,
// seeded with the small fixture files: errors wrap ErrCheckpoint, no
// panics.
//
//	go test -run '^$' -fuzz FuzzPyTorchFile -fuzztime 30s ./t5/
func FuzzPyTorchFile(f *testing.F) {
	for _, p := range smallFixtures(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkNoPanic(t, data, false)
	})
}
