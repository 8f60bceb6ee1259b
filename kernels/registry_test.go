package kernels

import (
	"errors"
	"strings"
	"testing"
)

// isolate gives the test an empty registry and no default backend, and
// restores both afterwards (the cpu package, linked into this test binary by
// the examples, registers "cpu" and "purego").
func isolate(t *testing.T) {
	t.Helper()
	regMu.Lock()
	saved := drivers
	drivers = map[string]Driver{}
	regMu.Unlock()
	defMu.Lock()
	sb, se := defB, defErr
	defB, defErr = nil, nil
	defMu.Unlock()
	t.Cleanup(func() {
		regMu.Lock()
		drivers = saved
		regMu.Unlock()
		defMu.Lock()
		defB, defErr = sb, se
		defMu.Unlock()
	})
}

// fakeBackend is a Backend that only has a name: the registry never calls
// its operations.
type fakeBackend struct {
	Backend
	name string
}

func (f *fakeBackend) Name() string { return f.name }

func fake(name string, prio int, probe error) Driver {
	d := Driver{Name: name, Priority: prio, Open: func() (Backend, error) { return &fakeBackend{name: name}, nil }}
	if probe != nil {
		d.Probe = func() error { return probe }
	}
	return d
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestRegisterPanics(t *testing.T) {
	isolate(t)
	Register(fake("a", 1, nil))
	mustPanic(t, "Register twice", func() { Register(fake("a", 2, nil)) })
	mustPanic(t, "Register without a name", func() { Register(fake("", 2, nil)) })
	mustPanic(t, "Register without Open", func() { Register(Driver{Name: "b"}) })
}

func TestDriversOrder(t *testing.T) {
	isolate(t)
	if got := Drivers(); len(got) != 0 {
		t.Fatalf("empty registry lists %v", got)
	}
	noGPU := errors.New("no GPU")
	Register(fake("purego", 100, nil))
	Register(fake("cuda", 300, noGPU))
	Register(fake("cpu", 200, nil))
	Register(fake("acpu", 200, nil)) // same priority: by name
	got := Drivers()
	want := []string{"cuda", "acpu", "cpu", "purego"}
	if len(got) != len(want) {
		t.Fatalf("Drivers() = %v", got)
	}
	for i, in := range got {
		if in.Name != want[i] {
			t.Errorf("Drivers()[%d] = %s, want %s", i, in.Name, want[i])
		}
		if (in.Err != nil) != (in.Name == "cuda") || (in.Name == "cuda" && !errors.Is(in.Err, noGPU)) {
			t.Errorf("Drivers()[%d] %s has Err %v", i, in.Name, in.Err)
		}
	}
	if got[0].Priority != 300 || got[3].Priority != 100 {
		t.Errorf("priorities not reported: %+v", got)
	}
}

func TestOpen(t *testing.T) {
	isolate(t)
	_, err := Open("cpu")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "import github.com/compacter-go/compacter/cpu") {
		t.Errorf("Open on an empty registry: %v, want ErrUnavailable with a hint to import cpu", err)
	}
	noGPU := errors.New("no CUDA driver")
	Register(fake("cpu", 200, nil))
	Register(fake("cuda", 300, noGPU))
	openErr := errors.New("boom")
	Register(Driver{Name: "broken", Priority: 1, Open: func() (Backend, error) { return nil, openErr }})

	b, err := Open("cpu")
	if err != nil || b.Name() != "cpu" {
		t.Fatalf("Open(cpu) = %v, %v", b, err)
	}
	if b2, _ := Open("cpu"); b2 == b {
		t.Error("Open returned the same backend twice; want a new one")
	}
	_, err = Open("tpu")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `"tpu"`) || !strings.Contains(err.Error(), "cpu, broken") {
		t.Errorf("Open(tpu) = %v: want ErrUnavailable naming tpu and the registered backends", err)
	}
	_, err = Open("cuda")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, noGPU) {
		t.Errorf("Open(cuda) = %v: want ErrUnavailable wrapping the probe's reason", err)
	}
	_, err = Open("broken")
	if !errors.Is(err, openErr) || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Open(broken) = %v: want the Open error wrapped", err)
	}
}

func TestBest(t *testing.T) {
	isolate(t)
	_, err := Best()
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no backend registered") {
		t.Errorf("Best on an empty registry: %v", err)
	}
	Register(fake("cuda", 300, errors.New("no device")))
	_, err = Best()
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "cuda: no device") {
		t.Errorf("Best with only an unavailable backend: %v, want the reason", err)
	}
	Register(fake("purego", 100, nil))
	Register(fake("cpu", 200, nil))
	if name, err := Best(); name != "cpu" || err != nil {
		t.Errorf("Best() = %q, %v, want cpu (cuda is unavailable)", name, err)
	}
}

// resetDefault forgets the cached default backend.
func resetDefault() {
	defMu.Lock()
	defB, defErr = nil, nil
	defMu.Unlock()
}

func TestDefault(t *testing.T) {
	isolate(t)
	Register(fake("cpu", 200, nil))
	Register(fake("purego", 100, nil))
	Register(fake("cuda", 300, errors.New("no device")))

	t.Setenv(EnvBackend, "")
	b, err := Default()
	if err != nil || b.Name() != "cpu" {
		t.Fatalf("Default() = %v, %v, want the best available (cpu)", b, err)
	}
	// Cached process-wide: the variable is read once.
	t.Setenv(EnvBackend, "purego")
	if b2, _ := Default(); b2 != b {
		t.Errorf("Default() changed from %v to %v; want it cached", b, b2)
	}

	resetDefault()
	if b, err := Default(); err != nil || b.Name() != "purego" {
		t.Errorf("with %s=purego Default() = %v, %v", EnvBackend, b, err)
	}

	resetDefault()
	t.Setenv(EnvBackend, "cuda")
	_, err = Default()
	if err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), EnvBackend+"=cuda") || !strings.Contains(err.Error(), "no device") {
		t.Errorf("with %s=cuda (unavailable) Default() error = %v; want a clear error, not a fallback", EnvBackend, err)
	}
	if _, err2 := Default(); err2 != err {
		t.Errorf("the error is not cached: %v then %v", err, err2)
	}

	resetDefault()
	t.Setenv(EnvBackend, "nosuch")
	if _, err := Default(); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("with %s=nosuch Default() error = %v", EnvBackend, err)
	}

	// SetDefault replaces the default (and clears a cached error).
	mine := &fakeBackend{name: "mine"}
	SetDefault(mine)
	if b, err := Default(); b != mine || err != nil {
		t.Errorf("after SetDefault Default() = %v, %v", b, err)
	}
	other := &fakeBackend{name: "other"}
	if old := SetDefault(other); old != mine {
		t.Errorf("SetDefault returned %v, want the previous default", old)
	}

	resetDefault()
	t.Setenv(EnvBackend, "")
	regMu.Lock()
	drivers = map[string]Driver{}
	regMu.Unlock()
	if _, err := Default(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Default with no backends: %v", err)
	}
}
