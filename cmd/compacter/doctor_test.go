package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/cuda"
)

func TestDoctor(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"doctor"}, &out, &errb); err != nil {
		t.Fatalf("doctor: %v\n%s", err, errb.String())
	}
	s := out.String()
	for _, want := range []string{"cpu:", "features:", "assembly kernels", "cuda:", "status: ", "mpi:", "nccl:", "default backend: "} {
		if !strings.Contains(s, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, s)
		}
	}
	if r := cuda.Inspect(); r.Err != nil {
		if !strings.Contains(s, "unavailable: "+r.Err.Error()) {
			t.Errorf("doctor does not print the reason %q:\n%s", r.Err, s)
		}
	} else if !strings.Contains(s, "status: available") || !strings.Contains(s, r.Cublas) {
		t.Errorf("doctor output lacks the GPU details:\n%s", s)
	}
	if err := run(context.Background(), []string{"doctor", "x"}, &out, &errb); err == nil {
		t.Error("doctor with an argument succeeded")
	}
}
