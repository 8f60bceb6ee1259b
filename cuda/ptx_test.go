package cuda

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// ptxArchsBuilt are the architectures `make ptx` builds for every module.
var ptxArchsBuilt = []int{80, 90}

// sources returns the module names of kernels/*.cu.
func sources(t *testing.T) []string {
	t.Helper()
	inTree(t)
	files, err := filepath.Glob("kernels/*.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernels/*.cu: %v", err)
	}
	var mods []string
	for _, f := range files {
		mods = append(mods, strings.TrimSuffix(filepath.Base(f), ".cu"))
	}
	return mods
}

// TestPTXHash fails when a committed PTX does not record the sha256 of its
// source (a stale PTX: run make ptx), when a source has no PTX for an
// architecture, or when a PTX has no source. It needs neither nvcc nor a GPU.
func TestPTXHash(t *testing.T) {
	mods := sources(t)
	for _, m := range mods {
		src, err := os.ReadFile(filepath.Join("kernels", m+".cu"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(src)
		want := "// compacter-source-sha256: " + hex.EncodeToString(sum[:])
		for _, a := range ptxArchsBuilt {
			name := filepath.Join("ptx", m+".sm_"+strconv.Itoa(a)+".ptx")
			f, err := os.Open(name)
			if err != nil {
				t.Errorf("%s: %v (run make ptx)", name, err)
				continue
			}
			line, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			if got := strings.TrimRight(line, "\r\n"); got != want {
				t.Errorf("%s is stale: first line %q, want %q (run make ptx)", name, got, want)
			}
		}
	}
	ptx, _ := filepath.Glob("ptx/*.ptx")
	for _, p := range ptx {
		m, _, ok := strings.Cut(filepath.Base(p), ".")
		if !ok || !contains(mods, m) {
			t.Errorf("%s has no source kernels/%s.cu", p, m)
		}
	}
}

// inTree skips a test that reads the sources when the test binary runs
// outside the package directory (a binary built with go test -c and run
// elsewhere).
func inTree(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("kernels"); err != nil {
		t.Skip("not run from the cuda package directory: no kernels/")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPTXTarget checks each PTX's .target against its file name and its
// .version against MinDriverVersion: PTX ISA 7.y needs a CUDA 11.y driver,
// 8.y a CUDA 12 driver.
func TestPTXTarget(t *testing.T) {
	ver := regexp.MustCompile(`(?m)^\.version (\d+)\.(\d+)$`)
	tgt := regexp.MustCompile(`(?m)^\.target (sm_\d+)`)
	inTree(t)
	ptx, _ := filepath.Glob("ptx/*.ptx")
	if len(ptx) == 0 {
		t.Fatal("no ptx/*.ptx")
	}
	for _, p := range ptx {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(filepath.Base(p), ".")
		if m := tgt.FindSubmatch(body); m == nil || string(m[1]) != parts[len(parts)-2] {
			t.Errorf("%s: .target %q does not match its name", p, m)
		}
		m := ver.FindSubmatch(body)
		if m == nil {
			t.Errorf("%s: no .version line", p)
			continue
		}
		major, _ := strconv.Atoi(string(m[1]))
		minor, _ := strconv.Atoi(string(m[2]))
		need := 11000 + 10*minor // ISA 7.y: CUDA 11.y
		if major != 7 {
			need = (major+4)*1000 + 10*minor // ISA 8.y: CUDA 12.y, 9.y: CUDA 13.y
		}
		if need > MinDriverVersion {
			t.Errorf("%s: PTX ISA %d.%d needs a CUDA %s driver, newer than MinDriverVersion %s", p, major, minor, versionString(need), versionString(MinDriverVersion))
		}
	}
}

// TestNVCCCompiles compiles every kernels/*.cu with the flags of make ptx
// where nvcc is installed (skipped otherwise, and under -short).
func TestNVCCCompiles(t *testing.T) {
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		t.Skip("nvcc not on PATH")
	}
	if testing.Short() {
		t.Skip("compiling the kernels takes a while")
	}
	dir := t.TempDir()
	for _, m := range sources(t) {
		for _, a := range ptxArchsBuilt {
			out := filepath.Join(dir, m+".ptx")
			cmd := exec.Command(nvcc, "-ptx", "-O3", "-std=c++14", "-arch=compute_"+strconv.Itoa(a), "-o", out, filepath.Join("kernels", m+".cu"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("nvcc %s.cu for compute_%d: %v\n%s", m, a, err, b)
			}
		}
	}
}
