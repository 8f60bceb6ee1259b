package kernels

import "testing"

// validSeed is a well-formed seed for d = 100, D = 1000 (L = 1024, m = 128).
func validSeed() FastfoodSeed {
	return FastfoodSeed{InDim: 100, OutDim: 1000, LogL: 10, LogM: 7, SignKey: 1, A0: 3, K0: 5, A1: 7, Shift: 5, KG: 9, Scale: 0.01}
}

func TestFastfoodSeed(t *testing.T) {
	s := validSeed()
	if s.L() != 1024 || s.M() != 128 || s.ScratchLen() != 1152 {
		t.Fatalf("L, m, scratch = %d, %d, %d", s.L(), s.M(), s.ScratchLen())
	}
	// Π is a permutation of [0, L).
	seen := make([]bool, s.L())
	for i := range seen {
		j := s.Perm(i)
		if j < 0 || j >= s.L() || seen[j] {
			t.Fatalf("Perm(%d) = %d repeats or leaves [0, %d)", i, j, s.L())
		}
		seen[j] = true
	}
	neg := 0
	for i := range 4096 {
		if s.Negative(i) {
			neg++
		}
		if g := s.GaussIndex(i); g < 0 || g >= FastfoodGaussLen {
			t.Fatalf("GaussIndex(%d) = %d", i, g)
		}
	}
	if neg < 1800 || neg > 2300 {
		t.Errorf("%d of 4096 signs negative", neg)
	}
	for _, c := range []struct {
		name string
		mod  func(*FastfoodSeed)
	}{
		{"d=0", func(s *FastfoodSeed) { s.InDim = 0 }},
		{"D=0", func(s *FastfoodSeed) { s.OutDim = 0 }},
		{"D>2^30", func(s *FastfoodSeed) { s.OutDim = 1<<30 + 1 }},
		{"logL", func(s *FastfoodSeed) { s.LogL = 11 }},
		{"logM", func(s *FastfoodSeed) { s.LogM = 10 }},
		{"even a0", func(s *FastfoodSeed) { s.A0 = 2 }},
		{"even a1", func(s *FastfoodSeed) { s.A1 = 4 }},
		{"shift 0", func(s *FastfoodSeed) { s.Shift = 0 }},
		{"scale 0", func(s *FastfoodSeed) { s.Scale = 0 }},
	} {
		s := validSeed()
		c.mod(&s)
		wantErr(t, c.name, s.Validate(), ErrShape)
	}
	// d > L: m = L.
	s = FastfoodSeed{InDim: 200, OutDim: 32, LogL: 5, LogM: 5, A0: 1, A1: 1, Shift: 3, Scale: 1}
	wantErr(t, "d > L", s.Validate(), nil)
}

func TestFastfoodParamsValidate(t *testing.T) {
	s := validSeed()
	fwd := FastfoodParams{Seed: s, Gauss: f32(FastfoodGaussLen), X: f32(100), Out: f32(1000)}
	adj := FastfoodParams{Seed: s, Gauss: f32(FastfoodGaussLen), X: f32(1000), Out: f32(100)}
	wantErr(t, "forward", fwd.Validate(false), nil)
	wantErr(t, "adjoint", adj.Validate(true), nil)
	full := fwd
	full.Base, full.Alpha, full.Scratch = f32(1000), f32(1), f32(2000)
	wantErr(t, "forward with base, alpha, scratch", full.Validate(false), nil)
	fullA := adj
	fullA.Alpha, fullA.Dot, fullA.DotWith, fullA.Scratch = f32(1), f32(1), f32(100), f32(1152)
	wantErr(t, "adjoint with dot", fullA.Validate(true), nil)
	for _, c := range []struct {
		name    string
		p       FastfoodParams
		adjoint bool
		want    error
	}{
		{"forward as adjoint", fwd, true, ErrShape},
		{"adjoint as forward", adj, false, ErrShape},
		{"no gauss", FastfoodParams{Seed: s, X: f32(100), Out: f32(1000)}, false, ErrShape},
		{"short gauss", FastfoodParams{Seed: s, Gauss: f32(100), X: f32(100), Out: f32(1000)}, false, ErrShape},
		{"int x", FastfoodParams{Seed: s, Gauss: f32(FastfoodGaussLen), X: i32(100), Out: f32(1000)}, false, ErrDType},
		{"base length", func() FastfoodParams { p := fwd; p.Base = f32(999); return p }(), false, ErrShape},
		{"alpha length", func() FastfoodParams { p := fwd; p.Alpha = f32(2); return p }(), false, ErrShape},
		{"short scratch", func() FastfoodParams { p := fwd; p.Scratch = f32(1151); return p }(), false, ErrShape},
		{"dot in forward", func() FastfoodParams { p := fwd; p.Dot, p.DotWith = f32(1), f32(100); return p }(), false, ErrShape},
		{"base in adjoint", func() FastfoodParams { p := adj; p.Base = f32(100); return p }(), true, ErrShape},
		{"dot without dotWith", func() FastfoodParams { p := adj; p.Dot = f32(1); return p }(), true, ErrShape},
		{"dotWith length", func() FastfoodParams { p := adj; p.Dot, p.DotWith = f32(1), f32(1000); return p }(), true, ErrShape},
		{"bad seed", func() FastfoodParams { p := fwd; p.Seed.Scale = -1; return p }(), false, ErrShape},
	} {
		wantErr(t, c.name, c.p.Validate(c.adjoint), c.want)
	}
}

// validSeed2 is a well-formed version-2 seed for d = 100, D = 1000
// (L = 1024, m = 128, blocks of 128).
func validSeed2() FastfoodSeed {
	s := validSeed()
	s.Version, s.BlockLog = 2, 7
	s.KB, s.A2, s.A3, s.Shift2, s.A4, s.A5 = 11, 13, 15, 2, 17, 19
	return s
}

// TestFastfoodSeedV2 checks version 2's Π is a permutation, its G indices
// address the 4096-entry table, the lane table holds permutations and
// their inverses, and Validate and FastfoodParams.Validate check the
// version's constants and tables.
func TestFastfoodSeedV2(t *testing.T) {
	for _, s := range []FastfoodSeed{validSeed2(),
		{Version: 2, InDim: 1, OutDim: 3, LogL: 2, LogM: 2, BlockLog: 2, A0: 1, A1: 1, Shift: 1, A2: 1, A3: 1, Shift2: 1, A4: 1, A5: 1, Scale: 1},
		{Version: 2, InDim: 20000, OutDim: 70000, LogL: 17, LogM: 15, BlockLog: 12, A0: 5, K0: 1, A1: 9, Shift: 3, A2: 7, A3: 3, Shift2: 5, A4: 11, A5: 13, KG: 77, KB: 99, Scale: 1}} {
		wantErr(t, "valid", s.Validate(), nil)
		if s.GaussLen() != FastfoodGauss2Len {
			t.Fatalf("GaussLen %d", s.GaussLen())
		}
		seen := make([]bool, s.L())
		for i := range seen {
			j := s.Perm(i)
			if j < 0 || j >= s.L() || seen[j] {
				t.Fatalf("L=%d: Perm(%d) = %d repeats or leaves [0, %d)", s.L(), i, j, s.L())
			}
			seen[j] = true
			if g := s.GaussIndex(i); g < 0 || g >= FastfoodGauss2Len {
				t.Fatalf("GaussIndex(%d) = %d", i, g)
			}
		}
	}
	lp := FastfoodLanePerms()
	for p := range 64 {
		for r := range 8 {
			if lp[64+p][lp[p][r]] != int32(r) {
				t.Fatalf("row %d is not the inverse of row %d", 64+p, p)
			}
		}
	}
	for _, c := range []struct {
		name string
		mod  func(*FastfoodSeed)
	}{
		{"version 3", func(s *FastfoodSeed) { s.Version = 3 }},
		{"logM below a group", func(s *FastfoodSeed) { s.InDim, s.LogM, s.BlockLog = 2, 1, 1 }},
		{"blockLog", func(s *FastfoodSeed) { s.BlockLog = 6 }},
		{"even a2", func(s *FastfoodSeed) { s.A2 = 2 }},
		{"even a5", func(s *FastfoodSeed) { s.A5 = 4 }},
		{"shift2 0", func(s *FastfoodSeed) { s.Shift2 = 0 }},
	} {
		s := validSeed2()
		c.mod(&s)
		wantErr(t, c.name, s.Validate(), ErrShape)
	}
	s := validSeed2()
	fwd := FastfoodParams{Seed: s, Gauss: f32(FastfoodGauss2Len), Lanes: i32(FastfoodLanesLen), X: f32(100), Out: f32(1000)}
	wantErr(t, "version 2 forward", fwd.Validate(false), nil)
	for _, c := range []struct {
		name string
		mod  func(*FastfoodParams)
		want error
	}{
		{"version 1 table", func(p *FastfoodParams) { p.Gauss = f32(FastfoodGaussLen) }, ErrShape},
		{"no lanes", func(p *FastfoodParams) { p.Lanes = nil }, ErrShape},
		{"float lanes", func(p *FastfoodParams) { p.Lanes = f32(FastfoodLanesLen) }, ErrDType},
		{"lanes on version 1", func(p *FastfoodParams) { p.Seed = validSeed(); p.Gauss = f32(FastfoodGaussLen) }, ErrShape},
	} {
		p := fwd
		c.mod(&p)
		wantErr(t, c.name, p.Validate(false), c.want)
	}
}
