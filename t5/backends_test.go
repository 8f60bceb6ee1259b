package t5

import (
	"flag"

	_ "github.com/compacter-go/compacter/cuda" // the cuda backend, where a GPU is present
)

// benchBackend is the backend the t5 benchmarks run on.
var benchBackend = flag.String("t5.backend", "cpu", "backend of the t5 benchmarks (cpu, purego, cuda)")
