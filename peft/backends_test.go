package peft

import (
	"flag"

	_ "github.com/compacter-go/compacter/cuda" // the cuda backend, where a GPU is present
)

// benchBackend is the backend the peft benchmarks run on.
var benchBackend = flag.String("peft.backend", "cpu", "backend of the peft benchmarks (cpu, purego, cuda)")
