package peft

import "flag"

// benchBackend is the backend the peft benchmarks run on.
var benchBackend = flag.String("peft.backend", "cpu", "backend of the peft benchmarks (cpu, purego, cuda)")
