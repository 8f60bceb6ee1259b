package kernels

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// EnvBackend is the environment variable that names the backend Default
// opens ("cpu", "purego", "cuda").
const EnvBackend = "COMPACTER_BACKEND"

// Driver describes a backend that can be opened by name.
type Driver struct {
	// Name is the name users select the backend by.
	Name string
	// Priority orders the drivers for Default: the available driver with the
	// highest priority wins (cuda 300, cpu 200, purego 100).
	Priority int
	// Probe reports whether the backend can run on this machine, and why
	// not: a nil error means available.
	Probe func() error
	// Open creates a new backend.
	Open func() (Backend, error)
}

// Info is what Drivers reports of a registered backend.
type Info struct {
	Name     string
	Priority int
	// Err is nil when the backend is available, else the reason it is not.
	Err error
}

var (
	regMu   sync.Mutex
	drivers = map[string]Driver{}

	defMu  sync.Mutex
	defB   Backend
	defErr error
)

// Register makes a backend available by name. It is meant to be called from
// the init function of a backend package and panics when the name is empty,
// taken, or Open is nil: those are programming errors.
func Register(d Driver) {
	regMu.Lock()
	defer regMu.Unlock()
	if d.Name == "" || d.Open == nil {
		panic("kernels: Register with empty name or nil Open")
	}
	if _, dup := drivers[d.Name]; dup {
		panic("kernels: Register called twice for backend " + d.Name)
	}
	drivers[d.Name] = d
}

// Drivers lists the registered backends, best first, each probed.
func Drivers() []Info {
	regMu.Lock()
	ds := make([]Driver, 0, len(drivers))
	for _, d := range drivers {
		ds = append(ds, d)
	}
	regMu.Unlock()
	slices.SortFunc(ds, func(a, b Driver) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := make([]Info, len(ds))
	for i, d := range ds {
		out[i] = Info{Name: d.Name, Priority: d.Priority}
		if d.Probe != nil {
			out[i].Err = d.Probe()
		}
	}
	return out
}

func names() string {
	var ns []string
	for _, in := range Drivers() {
		ns = append(ns, in.Name)
	}
	return strings.Join(ns, ", ")
}

// Open creates a new backend by name. An unknown name, or a backend that
// cannot run here, is an error that says why (wrapping ErrUnavailable).
func Open(name string) (Backend, error) {
	regMu.Lock()
	d, ok := drivers[name]
	regMu.Unlock()
	if !ok {
		known := names()
		if known == "" {
			known = "none; import github.com/compacter-go/compacter/cpu"
		}
		return nil, fmt.Errorf("kernels: unknown backend %q (registered: %s): %w", name, known, ErrUnavailable)
	}
	if d.Probe != nil {
		if err := d.Probe(); err != nil {
			return nil, fmt.Errorf("kernels: backend %q unavailable: %w", name, errors.Join(ErrUnavailable, err))
		}
	}
	b, err := d.Open()
	if err != nil {
		return nil, fmt.Errorf("kernels: opening backend %q: %w", name, err)
	}
	return b, nil
}

// Best returns the name of the best available backend, or an error when
// none is registered and available.
func Best() (string, error) {
	var why []string
	for _, in := range Drivers() {
		if in.Err == nil {
			return in.Name, nil
		}
		why = append(why, in.Name+": "+in.Err.Error())
	}
	if len(why) == 0 {
		return "", fmt.Errorf("kernels: no backend registered (import github.com/compacter-go/compacter/cpu): %w", ErrUnavailable)
	}
	return "", fmt.Errorf("kernels: no backend available (%s): %w", strings.Join(why, "; "), ErrUnavailable)
}

// Default returns the process-wide default backend, opened on first use:
// the one named by $COMPACTER_BACKEND when set, else the best available.
// Asking for an unavailable backend by the variable is an error, not a
// silent fallback.
func Default() (Backend, error) {
	defMu.Lock()
	defer defMu.Unlock()
	if defB != nil || defErr != nil {
		return defB, defErr
	}
	name := os.Getenv(EnvBackend)
	if name == "" {
		name, defErr = Best()
		if defErr != nil {
			return nil, defErr
		}
	}
	defB, defErr = Open(name)
	if defErr != nil && os.Getenv(EnvBackend) != "" {
		defErr = fmt.Errorf("%s=%s: %w", EnvBackend, name, defErr)
	}
	return defB, defErr
}

// SetDefault replaces the process-wide default backend (for example with
// one a program opened by name) and returns the previous one, which is not
// closed.
func SetDefault(b Backend) Backend {
	defMu.Lock()
	defer defMu.Unlock()
	old := defB
	defB, defErr = b, nil
	return old
}
