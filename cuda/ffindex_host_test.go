package cuda

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/fastfood"
	"github.com/compacter-go/compacter/kernels"
)

// ffHostMain is the C driver of TestFastfoodIndexHost: it reads the lane
// table from stdin and prints Π(j) and the table index of G(j) for every
// j < L, from the device functions of kernels/fastfood.cu compiled for the
// host.
const ffHostMain = `
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
    static int lanes[1024];
    unsigned v[15];
    if (argc != 16) return 2;
    for (int i = 0; i < 1024; i++) if (scanf("%d", &lanes[i]) != 1) return 3;
    for (int i = 0; i < 15; i++) v[i] = (unsigned)strtoul(argv[i + 1], 0, 10);
    /* version L logL c a0 k0 a1 shift kg kb a2 a3 shift2 a4 a5 */
    u32 L = v[1], logL = v[2], c = v[3];
    for (u32 j = 0; j < L; j++) {
        u32 pu, pg;
        if (v[0] == 2) {
            ff2_index(j, lanes, v[4], v[5], v[6], (1u << (logL - c)) - 1u, v[7], v[8], v[9], c, v[10], v[11], v[12], v[13], v[14], &pu, &pg);
        } else {
            pu = ff_perm(j, v[4], v[5], v[6], (1u << logL) - 1u, v[7]);
            pg = ff_gidx(j, v[8]);
        }
        printf("%u %u\n", pu, pg);
    }
    return 0;
}
`

// deviceFunc returns the source of the device function whose signature
// contains sig, from its "__device__" to its closing brace.
func deviceFunc(t *testing.T, src, sig string) string {
	t.Helper()
	i := strings.Index(src, sig)
	if i < 0 {
		t.Fatalf("kernels/fastfood.cu has no %q", sig)
	}
	i = strings.LastIndex(src[:i], "__device__")
	j := strings.Index(src[i:], "\n}\n")
	if i < 0 || j < 0 {
		t.Fatalf("cannot delimit %q in kernels/fastfood.cu", sig)
	}
	return src[i : i+j+3]
}

// TestFastfoodIndexHost compiles the index functions of the device
// Fastfood kernels (ff_perm, ff_gidx, ff2_index of kernels/fastfood.cu)
// for the host with the C compiler and checks them against the definition
// of the seeded state in kernels.FastfoodSeed, for both state versions, at
// every index of several projections: the device's Π and G are then those
// of package fastfood even where no GPU runs the kernels. Skipped without
// a C compiler.
func TestFastfoodIndexHost(t *testing.T) {
	inTree(t)
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH")
	}
	data, err := os.ReadFile(filepath.Join("kernels", "fastfood.cu"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	var c strings.Builder
	c.WriteString("typedef unsigned long long u64;\ntypedef unsigned int u32;\n#define __device__\n#define __forceinline__ static inline\n")
	for _, sig := range []string{"u32 ff_perm(", "u32 ff_gidx(", "u32 ff_fmix32(", "void ff2_index("} {
		c.WriteString(deviceFunc(t, src, sig))
	}
	c.WriteString(ffHostMain)
	dir := t.TempDir()
	cfile, bin := filepath.Join(dir, "ffindex.c"), filepath.Join(dir, "ffindex")
	if err := os.WriteFile(cfile, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O1", "-o", bin, cfile).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	var lanes bytes.Buffer
	for _, v := range fastfood.LaneTable() {
		fmt.Fprintln(&lanes, v)
	}
	for _, v := range []fastfood.StateVersion{fastfood.StateV1, fastfood.StateV2} {
		for _, sh := range [][2]int{{3, 5}, {5, 7}, {152, 32}, {100, 1000}, {20000, 1 << 16}, {3000, 300000}} {
			p, err := fastfood.NewVersion(sh[0], sh[1], uint64(sh[0]*31+sh[1]), v)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := p.DeviceSeed()
			args := []string{fmt.Sprint(int(v)), fmt.Sprint(s.L()), fmt.Sprint(s.LogL), fmt.Sprint(s.BlockLog)}
			for _, k := range []uint32{s.A0, s.K0, s.A1, s.Shift, s.KG, s.KB, s.A2, s.A3, s.Shift2, s.A4, s.A5} {
				args = append(args, fmt.Sprint(k))
			}
			cmd := exec.Command(bin, args...)
			cmd.Stdin = bytes.NewReader(lanes.Bytes())
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v %v: %v", v, sh, err)
			}
			checkIndexLines(t, v, sh, s, string(out))
		}
	}
}

func checkIndexLines(t *testing.T, v fastfood.StateVersion, sh [2]int, s kernels.FastfoodSeed, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != s.L() {
		t.Fatalf("%v %v: %d lines, want L = %d", v, sh, len(lines), s.L())
	}
	for i, ln := range lines {
		var pu, pg int
		if _, err := fmt.Sscan(ln, &pu, &pg); err != nil {
			t.Fatalf("%v %v: line %d %q: %v", v, sh, i, ln, err)
		}
		if pu != s.Perm(i) || pg != s.GaussIndex(i) {
			t.Fatalf("%v d=%d D=%d: index %d: device code gives Π %d, G index %d; the definition %d, %d", v, sh[0], sh[1], i, pu, pg, s.Perm(i), s.GaussIndex(i))
		}
	}
}
