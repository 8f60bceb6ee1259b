// Package mpitest starts test programs under Open MPI's mpirun.
package mpitest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// Args are the mpirun options the tests use: root allowed (CI runs as
// root), more ranks than cores, no core binding (ranks share the few cores
// of a CI machine), and the shared-memory transport without the
// single-copy mechanism (CMA needs ptrace rights that containers lack).
func Args(np int) []string {
	return []string{"--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
		"--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
		"-np", strconv.Itoa(np)}
}

// Command returns mpirun running np copies of prog with args, or skips t
// when mpirun is not installed.
func Command(t testing.TB, np int, prog string, args ...string) *exec.Cmd {
	t.Helper()
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (install openmpi-bin and libopenmpi-dev: make mpi-install)")
	}
	cmd := exec.Command(mpirun, append(append(Args(np), prog), args...)...)
	cmd.Env = append(os.Environ(), "OMPI_MCA_plm_rsh_agent=false")
	return cmd
}
