package dist_test

import (
	"context"
	"fmt"
	"log"

	"github.com/compacter-go/compacter/dist"
)

// A trainer of its own joins the job (MPI under mpirun, one process
// otherwise), sums its gradients every step and divides by the global
// batch, which gives every rank the gradient of the whole batch.
func Example() {
	c, err := dist.Open(dist.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// Refuse to train when the ranks disagree on the settings.
	if err := dist.CheckSame(ctx, c, "settings", []byte("lr=3e-3 batch=32")); err != nil {
		log.Fatal(err)
	}
	const globalBatch = 32
	// This rank's share of the batch produced gradient sums; here a stand-in.
	grad := []float32{float32(globalBatch / c.Size()), 1}
	if err := c.AllReduceSum(ctx, grad); err != nil {
		log.Fatal(err) // a rank died or hangs: Close aborts the job
	}
	for i := range grad {
		grad[i] /= globalBatch
	}
	fmt.Printf("rank %d of %d: mean gradient[0] = %v\n", c.Rank(), c.Size(), grad[0])
	// Output: rank 0 of 1: mean gradient[0] = 1
}
