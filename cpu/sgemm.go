package cpu

import (
	"os"
	"sync"
)

// SGEMM: a BLIS-style packed, cache-blocked single-precision matrix product.
//
// Loop nest (row-major C = alpha·op(A)·op(B) + beta·C):
//
//	for jc over N in blocks of NC columns
//	  for pc over K in blocks of KC            (beta applies on the first)
//	    pack op(B)[pc:pc+KC, jc:jc+NC] into KC×NR panels (all threads)
//	    each thread, on its own rectangle of MR-row and NR-column panels:
//	      for ic over its rows in blocks of MC
//	        pack op(A)[ic:ic+MC, pc:pc+KC] into MR×KC panels (per thread)
//	        for jr over its NR panels, for ir over MR panels: micro-kernel
//
// Packing absorbs TransA/TransB: the micro-kernel sees B as 16-float rows
// (B[l, j] at b[l·csb+j], csb = 16 when packed) and A through a row and a
// k stride (rsa, csa), so a packed A panel and op(A) in place (either
// transpose) are the same to it; alpha and beta are applied by the kernel
// when it writes the tile (beta only for the first K block, 1 after). Edge
// tiles (fewer than MR rows or NR columns) run the same kernel on
// zero-padded panels into a 6×16 temporary tile that is then merged into C.
//
// Blocking, for Zen-class cores (L1d 32 KiB, L2 512 KiB, shared L3):
//
//	MR×NR = 6×16  12 ymm accumulators; per k step 2 B loads, 6 A broadcasts,
//	              12 FMAs (FMA-bound, not load-bound)
//	KC = 256      a 16 KiB B micro-panel (KC×NR) stays in L1 across the ir loop
//	MC = 144      a 144 KiB packed A block (MC×KC) stays in L2
//	NC = 1024     a 1 MiB packed B block (KC×NC) in L2 (Xeon, 2 MiB) or L3
//
// On AVX-512 (the "wide" path) the full tiles are 12×32 (two A and two B
// panels) and the order of the two inner loops is BLIS's: each pair of A
// panels (12×KC, 12 KiB) stays in L1 while the B panel pairs of the block
// stream past it from L2. Against B pairs in L1 and A streaming (the order
// above), on one Xeon core, median of 17 alternating rounds normalised by
// the micro-kernel's L1 rate in the same round: +0–8 % at the T5 step's
// products (1024×768×768 NN +5 %, 1024×512×8192 NT +4.5 %), the same bits.
//
// K, M and N are split into equal blocks no larger than these (K=300 gives
// two K blocks of 150, not 256+44).
//
// Small and skinny products: when a thread's share of N is at most
// sgemmNoPackPanels NR panels (N=24 in a PHM layer, N=4), A is not packed:
// the kernel reads op(A) in place through its row/column strides and the
// ir loop runs outermost, so each A micro-panel is reused from L1 across the
// few B panels. With a single MR panel (M ≤ 6, e.g. M=1) and no TransB, the
// full NR panels of B are read in place too (each B element is used once,
// so packing would cost as much as the product). On the wide path every
// untransposed B with rows of at most 1024 floats is read in place (see
// blocked): the 12×32 kernel takes B's row stride and prefetches the row
// it needs 48 k steps ahead, which the hardware prefetchers do not do
// across rows; a frozen weight read from DRAM then costs one pass instead
// of a packing pass and a pass over the copy (BenchmarkSgemmInPlaceB).
// The wide path reads A in place too where packing it costs more than it
// saves (useInPlaceA): sgemmKernel12x32StridedAVX512 broadcasts the twelve
// rows of op(A) through its row and k strides, and only a block's odd or
// partial panels are packed (BenchmarkSgemmInPlaceA). A·Bᵀ with few rows
// of A (at most 128, beta = 0) runs as its transpose, so that a weight B
// is the operand read in place, then is transposed into C
// (sgemm_transnt.go, BenchmarkSgemmTransposeNT). A
// tiny M·N·K, M ≤ 2 with TransB, or N ≤ 2 without the assembly kernel run a
// direct dot-product loop without packing.
//
// Products with M·N·K < 2·sgemmParallelMin run on one thread; larger
// packed ones run sharedBlocked (sgemm_shared.go): all threads pack each B
// block together into one shared buffer and then claim its row blocks ×
// column chunks one at a time; the skinny unpacked ones (and all with
// COMPACTER_CPU_SHAREB=0) split the panels of C over a static tm×tn grid
// of threads (M first), each packing the B panels of its own rectangle.
// There is one pool each for the packed B blocks and
// the per-thread scratch (packed A block and edge tile), so a steady stream
// of products allocates only a few small objects.
//
// Measured on the development machine (AMD EPYC, Zen 3, 2 cores, L1d
// 32 KiB, L2 512 KiB per core; the other helpers kept it loaded, load
// average 4–5), GFLOP/s as median (best) of 5 interleaved runs of
//
//	go test -tags openblas -count=5 -run XXX -bench 'Sgemm/.*/.*/(simd|openblas|gonum)' -benchtime 3x ./bench/blas
//
//	M×K×N           threads  simd          OpenBLAS 0.3.21  gonum 0.17
//	1024×768×3072   1        65.9 (71.5)   77.3 (87.1)       6.8
//	1024×3072×768   1        63.2 (65.4)   67.6 (73.4)       6.0
//	1024×768×768    1        61.3 (66.7)   41.8 (70.7)       3.8
//	4096×768×768    1        72.1 (75.3)   72.7 (73.1)       6.6
//	1024×768×3072   2        110 (133)     75.8 (123)        12.7
//	1024×3072×768   2        63.0 (66.7)   38.4 (46.8)       3.8
//	1024×768×768    2        61.6 (70.5)   64.9 (140)        6.4
//	4096×768×768    2        68.2 (77.9)   66.5 (79.3)       7.5
//
// With the load, two-thread figures mostly measure the scheduler (OpenBLAS's
// spinning threads suffer most); single-thread medians are 0.85–1.5× of
// OpenBLAS. The micro-kernel alone, on L1-resident panels, runs at about
// 89 GFLOP/s. The pure-Go kernel ("purego") gives 7–8 GFLOP/s (2026-12-03, Xeon). Skinny
// shapes (simd, one thread): 1024×768×24 about 45–58, 4096×6×4 about 2.5,
// 1×768×3072 about 3–4, 4096×768×1 about 2.4 GFLOP/s.
const (
	sgemmMR = 6
	sgemmNR = 16
	sgemmKC = 256
	sgemmMC = 144
	sgemmNC = 1024

	// sgemmNoPackPanels is the largest number of NR panels of a thread's
	// share of N for which A is read in place instead of packed.
	sgemmNoPackPanels = 4
	// sgemmParallelMin is the M·N·K of work per extra thread.
	sgemmParallelMin = 1 << 20
	// sgemmDirectMNK is the M·N·K up to which the direct loop runs.
	sgemmDirectMNK = 4096
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major slices, with
// op(A) of m×k and op(B) of k×n (see kernels.GemmParams for the layout),
// using the assembly kernels where available and all cores for large
// products. With beta = 0, C is not read.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(hasAVX2FMA, 0, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmArgs is one product: the arguments of sgemm.
type sgemmArgs struct {
	simd           bool
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
	// inPlaceB reads full NR panels of B from b instead of packing them.
	inPlaceB bool
	// wide runs full 12×32 tiles of packed blocks (two A panels by two B
	// panels) through the AVX-512 micro-kernel, and a block's odd or
	// partial A panel against two B panels through the 6×32 one.
	wide bool
	// inPlaceA (wide only) reads the full A panel pairs of op(A) in place
	// through the strided 12×32 kernel; only a block's odd or partial
	// panels are packed.
	inPlaceA bool
}

// sgemmWide selects the 12×32 AVX-512 micro-kernel for packed blocks where
// the CPU has AVX-512 (COMPACTER_CPU_AVX512=0 keeps the 6×16 AVX2 kernel
// everywhere, e.g. to compare the two). It is decided once, at init.
var sgemmWide = hasAVX512 && os.Getenv("COMPACTER_CPU_AVX512") != "0"

// sgemmInPlaceNN lets the wide path read the full B panels of an
// untransposed op(B) in place (row stride ldb, the kernel prefetching its
// rows) instead of packing them (COMPACTER_CPU_INPLACEB=0 packs them, e.g.
// to compare the two). It is decided once, at init.
var sgemmInPlaceNN = os.Getenv("COMPACTER_CPU_INPLACEB") != "0"

// sgemmInPlaceA lets the wide path read A in place (see useInPlaceA;
// COMPACTER_CPU_INPLACEA=0 always packs it, e.g. to compare the two). It is
// decided once, at init.
var sgemmInPlaceA = os.Getenv("COMPACTER_CPU_INPLACEA") != "0"

// sgemmScratch is one thread's working memory: its packed A block and the
// temporary tile of the edge paths (MR×NR, or MR×2NR for the 6×32 kernel).
type sgemmScratch struct {
	a    []float32
	tile [2 * sgemmMR * 2 * sgemmNR]float32
}

var (
	sgemmScratchPool sync.Pool // *sgemmScratch
	sgemmBPool       sync.Pool // *[]float32, packed B blocks
)

// sgemm is the dispatching SGEMM: simd selects the assembly micro-kernel,
// threads the parallelism (0 = GOMAXPROCS).
func sgemm(simd bool, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k == 0 || alpha == 0 {
		sgemmScaleC(m, n, beta, c, ldc)
		return
	}
	if sgemmTransposeC(simd, transA, m, n, k) {
		// Cᵀ = op(B)ᵀ·op(A)ᵀ into a scratch, then C = (Cᵀ)ᵀ + beta·C.
		sp := sgemmGetB(m * n)
		t := *sp
		sgemm(simd, threads, !transB, !transA, n, m, k, alpha, b, ldb, a, lda, 0, t, m)
		if beta == 0 {
			transpose(simd, c, ldc, t, m, m, n)
		} else {
			for i := 0; i < m; i++ {
				cr := c[i*ldc : i*ldc+n]
				for j := range cr {
					cr[j] = t[j*m+i] + beta*cr[j]
				}
			}
		}
		sgemmBPool.Put(sp)
		return
	}
	if sgemmTransposeNT(simd, transA, transB, m, n, k, beta) {
		sgemmNTAsTranspose(simd, threads, m, n, k, alpha, a, lda, b, ldb, c, ldc)
		return
	}
	d := &sgemmArgs{simd: simd, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		wide: simd && sgemmWide}
	// The micro-kernel wastes 14 of its 16 columns at N ≤ 2; the assembly
	// one is still faster than the direct loop, the pure-Go one is not.
	if m*n*k <= sgemmDirectMNK || m <= 2 && transB || n <= 2 && !simd {
		d.direct(beta)
		return
	}
	d.blocked(threads, beta)
}

// blocked runs the packed, blocked algorithm.
func (d *sgemmArgs) blocked(threads int, beta float32) {
	m, n, k := d.m, d.n, d.k
	t := maxThreads(threads)
	if w := m * n * k / sgemmParallelMin; w < t {
		t = max(w, 1)
	}
	kc := sgemmCeilDiv(k, sgemmCeilDiv(k, sgemmKC))
	nc := sgemmCeilDiv(n, sgemmCeilDiv(n, sgemmNC))
	nc = sgemmCeilDiv(nc, sgemmNR) * sgemmNR
	mPanels := sgemmCeilDiv(m, sgemmMR)
	tm, tn := sgemmGrid(t, mPanels, sgemmCeilDiv(min(nc, n), sgemmNR))
	packA := sgemmCeilDiv(sgemmCeilDiv(min(nc, n), sgemmNR), tn) > sgemmNoPackPanels || d.wide && mPanels >= 2 && n > sgemmNR && k >= 32
	// With one MR panel every element of B is used once: packing it would
	// cost as much as the product. The wide path reads untransposed B in
	// place at every M (sgemmInPlaceNN) when its rows are at most 1024
	// floats long, as T5's d_model-wide weights are; the FFN-wide ones pack
	// (BenchmarkSgemmInPlaceB, two threads, B cold, GFLOP/s in place ÷
	// packed: ldb 768 at M = 128 250 ÷ 205, at M = 1024 equal; ldb 512 and
	// 1024 at M = 1024 289 ÷ 263 and 298 ÷ 277; ldb 2048 284 ÷ 291, 3072
	// 215 ÷ 291).
	d.inPlaceB = !d.transB && (mPanels == 1 || d.wide && packA && sgemmInPlaceNN && d.ldb <= 1024 && n >= 2*sgemmNR)
	d.inPlaceA = d.wide && packA && sgemmInPlaceA && d.useInPlaceA()
	// (The narrow path reads B in place only with one A panel, through
	// the static grid.)
	if t > 1 && packA && (!d.inPlaceB || d.wide) && sgemmShareB {
		// Equal row blocks of at most MC rows over all of M, in pairs of
		// A panels.
		per := sgemmCeilDiv(mPanels, sgemmCeilDiv(mPanels, sgemmMC/sgemmMR))
		per += per & 1
		// Too few column pairs to share (N ≤ 32: the adapters'
		// bottleneck) and too few row blocks: smaller row blocks, so
		// that every thread gets units (128×24×768 on one thread of two
		// otherwise).
		if pairs := sgemmCeilDiv(sgemmCeilDiv(min(nc, n), sgemmNR), 2); pairs < 2*t && sgemmCeilDiv(mPanels, per)*pairs < 2*t {
			per = sgemmCeilDiv(mPanels, sgemmCeilDiv(2*t, pairs))
			per = max(2, per+per&1)
		}
		d.sharedBlocked(t, per, mPanels, kc, nc, beta)
		return
	}
	mc := 0
	if packA {
		// Equal MC blocks of a thread's share of the M panels.
		share := sgemmCeilDiv(mPanels, tm)
		per := sgemmCeilDiv(share, sgemmCeilDiv(share, sgemmMC/sgemmMR))
		mc = per * sgemmMR
	}

	// One parallel region per product: every worker packs the B panels of
	// its own column group and runs the whole jc/pc loop on its rectangle of
	// C, so there is no barrier between K blocks. Fork-joins are what cost
	// here (waking the other core takes tens of µs on a VM); when the grid
	// splits M, the B panels are packed once per worker row instead of
	// shared, a few percent of the work at the shapes that split.
	parallelFor(t, t, 1, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			s := sgemmGetScratch(max(mc, sgemmMR) * kc)
			bp := sgemmGetB(kc * nc)
			d.worker(s, *bp, w/tn, w%tn, tm, tn, mPanels, mc, kc, nc, packA, beta)
			sgemmBPool.Put(bp)
			sgemmScratchPool.Put(s)
		}
	})
}

// worker computes the C panels of grid cell (wm, wn) of a tm×tn grid for
// all column and K blocks, packing the B panels it uses into bp.
func (d *sgemmArgs) worker(s *sgemmScratch, bp []float32, wm, wn, tm, tn, mPanels, mc, kc, nc int, packA bool, beta float32) {
	n, k := d.n, d.k
	p0, p1 := sgemmSplit(mPanels, tm, wm)
	if p0 >= p1 {
		return
	}
	for jc := 0; jc < n; jc += nc {
		ncur := min(nc, n-jc)
		nPanels := sgemmCeilDiv(ncur, sgemmNR)
		q0, q1 := sgemmSplit(nPanels, tn, wn)
		if q0 >= q1 {
			continue
		}
		for pc := 0; pc < k; pc += kc {
			kcur := min(kc, k-pc)
			betaK := beta // the caller's beta for the first K block, 1 after
			if pc > 0 {
				betaK = 1
			}
			packed := bp[:nPanels*kcur*sgemmNR]
			switch {
			case !d.inPlaceB:
				d.packB(packed, q0, q1, pc, kcur, jc, ncur)
			case ncur%sgemmNR != 0 && q1 == nPanels:
				d.packB(packed, nPanels-1, nPanels, pc, kcur, jc, ncur)
			}
			if packA {
				d.packedBlock(s, packed, mc/sgemmMR, p0, p1, q0, q1, pc, kcur, jc, ncur, betaK)
			} else {
				d.unpackedBlock(s, packed, p0, p1, q0, q1, pc, kcur, jc, ncur, betaK)
			}
		}
	}
}

// packedBlock computes the C panels [p0, p1)×[q0, q1) of one K block from
// packed A blocks of at most per MR panels.
func (d *sgemmArgs) packedBlock(s *sgemmScratch, bp []float32, per, p0, p1, q0, q1, pc, kc, jc, ncur int, beta float32) {
	for ib := p0; ib < p1; ib += per {
		ie := min(ib+per, p1)
		d.packBlockA(s.a, ib, ie, pc, kc)
		d.packedTiles(s, bp, ib, ie, q0, q1, pc, kc, jc, ncur, beta)
	}
}

// packedTiles computes the C panels [ib, ie)×[q0, q1) of one K block from
// the A panels packed in s.a (panel ib first) and the packed B block bp.
func (d *sgemmArgs) packedTiles(s *sgemmScratch, bp []float32, ib, ie, q0, q1, pc, kc, jc, ncur int, beta float32) {
	q := q0
	if d.wide {
		// The pairs of full B panels: 12×32 tiles, each pair of A
		// panels (12×KC, in L1) against every B pair of the block
		// (streamed from L2); the odd or partial A panel goes to the
		// 6×32 kernel.
		full := q1 - q0
		if q1*sgemmNR > ncur {
			full-- // the last panel is partial
		}
		qe := q0 + full&^1
		p := ib
		for pe := d.pairsEnd(ib, ie); p < pe; p += 2 {
			i := p * sgemmMR
			if d.inPlaceA {
				ap, rsa, csa := d.aRows(i, pc, kc, 2*sgemmMR)
				for qq := q0; qq < qe; qq += 2 {
					j := jc + qq*sgemmNR
					b, rsb, hb := d.bPair(bp, qq, pc, kc, j)
					sgemmKernel12x32StridedAVX512(kc, ap, rsa, csa, b, rsb, hb, d.c[i*d.ldc+j:], d.ldc, d.alpha, beta)
				}
				continue
			}
			ap := s.a[(p-ib)*kc*sgemmMR : (p-ib+2)*kc*sgemmMR]
			for qq := q0; qq < qe; qq += 2 {
				j := jc + qq*sgemmNR
				b, rsb, hb := d.bPair(bp, qq, pc, kc, j)
				sgemmKernel12x32AVX512(kc, ap, b, rsb, hb, d.c[i*d.ldc+j:], d.ldc, d.alpha, beta)
			}
		}
		for r := p; r < ie; r++ {
			i := r * sgemmMR
			for qq := q0; qq < qe; qq += 2 {
				j := jc + qq*sgemmNR
				b, rsb, hb := d.bPair(bp, qq, pc, kc, j)
				d.tile6x32(s, kc, s.a[(r-ib)*kc*sgemmMR:], b, rsb, hb, i, j, min(sgemmMR, d.m-i), beta)
			}
		}
		q = qe
		if q1-qe == 2 && full&1 == 1 && !d.inPlaceB {
			// A full panel and a partial one are left, both packed (zero
			// columns after the partial one's): one more pair of the wide
			// kernels, through the temporary tile.
			d.edgePair(s, bp, ib, ie, qe, pc, kc, jc, ncur, beta)
			q = q1
		}
	}
	for ; q < q1; q++ {
		j := jc + q*sgemmNR
		nr := min(sgemmNR, jc+ncur-j)
		bq, csb := d.bPanel(bp, q, pc, kc, j, nr)
		for p := ib; p < ie; p++ {
			i := p * sgemmMR
			if d.inPlaceA && p < d.pairsEnd(ib, ie) {
				// A panel of a pair, read in place: the AVX2 kernel takes
				// op(A)'s strides too.
				ap, rsa, csa := d.aRows(i, pc, kc, sgemmMR)
				d.tile(s, kc, ap, rsa, csa, bq, csb, i, j, sgemmMR, nr, beta)
				continue
			}
			d.tile(s, kc, s.a[(p-ib)*kc*sgemmMR:], 1, sgemmMR, bq, csb, i, j, min(sgemmMR, d.m-i), nr, beta)
		}
	}
}

// edgePair computes the C panels [ib, ie)×[q, q+2) of one K block, where
// panel q is full and q+1 partial (both packed in bp), with the wide
// kernels on a temporary 12×32 (or 6×32) tile: tall products with
// 16 < N < 32 (the adapters' bottleneck of 24) run at the wide kernel's
// rate less its unused columns instead of the 6×16 kernel's. Every element
// gets the bits of the narrow path: the tile holds C in the full panel's
// columns (the kernel applies beta to them as it does writing to C) and
// zeros in the partial one's, which mergeTile then adds beta·C to, as the
// narrow path's edge tiles do.
func (d *sgemmArgs) edgePair(s *sgemmScratch, bp []float32, ib, ie, q, pc, kc, jc, ncur int, beta float32) {
	const w = 2 * sgemmNR
	j := jc + q*sgemmNR
	nr := jc + ncur - j - sgemmNR // columns of the partial panel
	b := bp[q*kc*sgemmNR : (q+2)*kc*sgemmNR]
	tile := s.tile[:]
	run := func(i, rows int, kernel func(c []float32)) {
		for r := range rows {
			tr := tile[r*w : (r+1)*w]
			if beta != 0 && i+r < d.m {
				copy(tr[:sgemmNR], d.c[(i+r)*d.ldc+j:])
			}
			clear(tr[sgemmNR:])
		}
		kernel(tile)
		for r := 0; r < rows && i+r < d.m; r++ {
			o := (i+r)*d.ldc + j
			copy(d.c[o:o+sgemmNR], tile[r*w:])
		}
		d.mergeTile(tile[sgemmNR:], w, i, j+sgemmNR, min(rows, d.m-i), nr, beta)
	}
	p := ib
	for pe := d.pairsEnd(ib, ie); p < pe; p += 2 {
		i := p * sgemmMR
		run(i, 2*sgemmMR, func(c []float32) {
			if d.inPlaceA {
				ap, rsa, csa := d.aRows(i, pc, kc, 2*sgemmMR)
				sgemmKernel12x32StridedAVX512(kc, ap, rsa, csa, b, sgemmNR, kc*sgemmNR, c, w, d.alpha, beta)
				return
			}
			sgemmKernel12x32AVX512(kc, s.a[(p-ib)*kc*sgemmMR:(p-ib+2)*kc*sgemmMR], b, sgemmNR, kc*sgemmNR, c, w, d.alpha, beta)
		})
	}
	for ; p < ie; p++ {
		i := p * sgemmMR
		run(i, sgemmMR, func(c []float32) {
			sgemmKernel6x32AVX512(kc, s.a[(p-ib)*kc*sgemmMR:], b, sgemmNR, kc*sgemmNR, c, w, d.alpha, beta)
		})
	}
}

// pairsEnd returns the end of the full A panel pairs of the row block
// [ib, ie) of MR panels: the 12×32 kernel's rows. The panels from it on
// (an odd one, a partial one) run through the 6×32 kernel.
func (d *sgemmArgs) pairsEnd(ib, ie int) int {
	full := min(ie, d.m/sgemmMR) // the end of the full panels
	if full <= ib {
		return ib
	}
	return ib + (full-ib)&^1
}

// packBlockA packs the A panels of the row block [ib, ie) of one K block
// into dst (panel ib first): all of them, or, with A read in place, only
// those after the full pairs.
func (d *sgemmArgs) packBlockA(dst []float32, ib, ie, pc, kc int) {
	p := ib
	if d.inPlaceA {
		p = d.pairsEnd(ib, ie)
	}
	if i0, i1 := p*sgemmMR, min(ie*sgemmMR, d.m); i0 < i1 {
		d.packA(dst[(p-ib)*kc*sgemmMR:], i0, i1, pc, kc)
	}
}

// aRows returns op(A) in place from row i and column pc, with its row and
// k strides, sliced to the rows × kc elements a kernel reads.
func (d *sgemmArgs) aRows(i, pc, kc, rows int) (a []float32, rsa, csa int) {
	o, rsa, csa := i*d.lda+pc, d.lda, 1
	if d.transA {
		o, rsa, csa = pc*d.lda+i, 1, d.lda
	}
	return d.a[o : o+(rows-1)*rsa+(kc-1)*csa+1], rsa, csa
}

// useInPlaceA reports whether the wide path reads A in place: where an A
// panel pair serves few B panel pairs (N ≤ 128: attention's per-head
// products), so that packing it costs more than the strided reads; and
// untransposed with B packed (the linear layers' x·Wᵀ), unless A's rows
// are a multiple of 1024 floats apart (T5's FFN width), where its twelve
// rows would share L1 sets with each other and with the B stream. A
// transposed A (a weight gradient's dyᵀ) or two operands in place lose.
func (d *sgemmArgs) useInPlaceA() bool {
	if d.n <= 8*sgemmNR {
		return !d.transA || d.lda <= 512
	}
	return !d.transA && !d.inPlaceB && d.lda%1024 != 0
}

// unpackedBlock computes the C panels [p0, p1)×[q0, q1) of one K block
// reading op(A) in place (only a partial last MR panel is packed).
func (d *sgemmArgs) unpackedBlock(s *sgemmScratch, bp []float32, p0, p1, q0, q1, pc, kc, jc, ncur int, beta float32) {
	for p := p0; p < p1; p++ {
		i := p * sgemmMR
		mr := min(sgemmMR, d.m-i)
		var ap []float32
		var rsa, csa int
		switch {
		case mr < sgemmMR:
			d.packA(s.a, i, d.m, pc, kc)
			ap, rsa, csa = s.a, 1, sgemmMR
		case d.transA:
			ap, rsa, csa = d.a[pc*d.lda+i:], 1, d.lda
		default:
			ap, rsa, csa = d.a[i*d.lda+pc:], d.lda, 1
		}
		for q := q0; q < q1; q++ {
			j := jc + q*sgemmNR
			nr := min(sgemmNR, jc+ncur-j)
			bq, csb := d.bPanel(bp, q, pc, kc, j, nr)
			d.tile(s, kc, ap, rsa, csa, bq, csb, i, j, mr, nr, beta)
		}
	}
}

// bPanel returns the B panel q (of nr columns from column j) of the K block
// at pc and its row stride: in op(B) itself when B is read in place and the
// panel is full, else in the packed block bp.
func (d *sgemmArgs) bPanel(bp []float32, q, pc, kc, j, nr int) ([]float32, int) {
	if d.inPlaceB && nr == sgemmNR {
		return d.b[pc*d.ldb+j:], d.ldb
	}
	return bp[q*kc*sgemmNR : (q+1)*kc*sgemmNR], sgemmNR
}

// bPair returns the two full B panels q, q+1 (32 columns from column j) of
// the K block at pc for the wide kernels, with their row stride and the
// offset of the second panel: in op(B) itself when B is read in place, else
// in the packed block bp.
func (d *sgemmArgs) bPair(bp []float32, q, pc, kc, j int) (b []float32, rsb, hb int) {
	if d.inPlaceB {
		o := pc*d.ldb + j
		return d.b[o : o+(kc-1)*d.ldb+2*sgemmNR], d.ldb, sgemmNR
	}
	return bp[q*kc*sgemmNR : (q+2)*kc*sgemmNR], sgemmNR, kc * sgemmNR
}

// tile runs the micro-kernel on the C tile at (i, j) of mr×nr elements,
// through the temporary tile when it is smaller than MR×NR.
func (d *sgemmArgs) tile(s *sgemmScratch, kc int, ap []float32, rsa, csa int, bq []float32, csb, i, j, mr, nr int, beta float32) {
	if mr == sgemmMR && nr == sgemmNR {
		sgemmKernel(d.simd, kc, ap, rsa, csa, bq, csb, d.c[i*d.ldc+j:], d.ldc, d.alpha, beta)
		return
	}
	sgemmKernel(d.simd, kc, ap, rsa, csa, bq, csb, s.tile[:], sgemmNR, d.alpha, 0)
	d.mergeTile(s.tile[:], sgemmNR, i, j, mr, nr, beta)
}

// mergeTile merges the first mr×nr elements of a temporary tile of row
// stride w into C at (i, j): C = tile + beta·C, C not read when beta = 0.
func (d *sgemmArgs) mergeTile(tile []float32, w, i, j, mr, nr int, beta float32) {
	for r := 0; r < mr; r++ {
		cr := d.c[(i+r)*d.ldc+j : (i+r)*d.ldc+j+nr]
		tr := tile[r*w : r*w+nr]
		if beta == 0 {
			copy(cr, tr)
			continue
		}
		for x, v := range tr {
			cr[x] = v + beta*cr[x]
		}
	}
}

// tile6x32 runs the 6×32 kernel on the C tile at (i, j) of mr rows (from
// one packed A panel and two full B panels, see bPair), through the temporary tile
// when mr < MR.
func (d *sgemmArgs) tile6x32(s *sgemmScratch, kc int, ap, bq []float32, rsb, hb, i, j, mr int, beta float32) {
	if mr == sgemmMR {
		sgemmKernel6x32AVX512(kc, ap, bq, rsb, hb, d.c[i*d.ldc+j:], d.ldc, d.alpha, beta)
		return
	}
	const w = 2 * sgemmNR
	sgemmKernel6x32AVX512(kc, ap, bq, rsb, hb, s.tile[:], w, d.alpha, 0)
	d.mergeTile(s.tile[:], w, i, j, mr, w, beta)
}

// sgemmKernel dispatches to the assembly or the pure-Go micro-kernel.
func sgemmKernel(simd bool, k int, a []float32, rsa, csa int, b []float32, csb int, c []float32, ldc int, alpha, beta float32) {
	if simd {
		sgemmKernelAVX2(k, a, rsa, csa, b, csb, c, ldc, alpha, beta)
	} else {
		sgemmKernelGeneric(k, a, rsa, csa, b, csb, c, ldc, alpha, beta)
	}
}

// packA packs rows [i0, i1) and columns [pc, pc+kc) of op(A) into MR-row
// panels (A[r, l] of a panel at l·MR + r), zero-padding the last panel.
func (d *sgemmArgs) packA(dst []float32, i0, i1, pc, kc int) {
	a, lda := d.a, d.lda
	for i := i0; i < i1; i += sgemmMR {
		mr := min(sgemmMR, i1-i)
		pan := dst[(i-i0)*kc : (i-i0)*kc+kc*sgemmMR]
		if mr < sgemmMR {
			clear(pan) // the zero padding of rows mr…, in one call
		}
		switch {
		case d.transA && mr == sgemmMR:
			packA6T(d.simd, pan, a[pc*lda+i:], lda, kc)
		case d.transA:
			for l := 0; l < kc; l++ {
				o := (pc+l)*lda + i
				copy(pan[l*sgemmMR:l*sgemmMR+mr], a[o:o+mr])
			}
		case mr == sgemmMR:
			packA6N(d.simd, pan, a[i*lda+pc:], lda, kc)
		default:
			for r := 0; r < mr; r++ {
				o := (i+r)*lda + pc
				for l, v := range a[o : o+kc] {
					pan[l*sgemmMR+r] = v
				}
			}
		}
	}
}

// packB packs the NR-column panels [q0, q1) of rows [pc, pc+kc) and columns
// [jc, jc+ncur) of op(B) (B[l, j] of a panel at l·NR + j), zero-padding the
// last panel.
func (d *sgemmArgs) packB(dst []float32, q0, q1, pc, kc, jc, ncur int) {
	b, ldb := d.b, d.ldb
	for q := q0; q < q1; q++ {
		pan := dst[q*kc*sgemmNR : (q+1)*kc*sgemmNR]
		j := jc + q*sgemmNR
		nr := min(sgemmNR, jc+ncur-j)
		if !d.transB {
			if nr == sgemmNR {
				packBN16(d.simd, pan, b[pc*ldb+j:], ldb, kc)
				continue
			}
			for l := 0; l < kc; l++ {
				o := (pc+l)*ldb + j
				row := pan[l*sgemmNR : (l+1)*sgemmNR]
				copy(row, b[o:o+nr])
				clear(row[nr:])
			}
			continue
		}
		if nr == sgemmNR {
			packBT16(d.simd, pan, b[j*ldb+pc:], ldb, kc)
			continue
		}
		for x := 0; x < nr; x++ {
			o := (j+x)*ldb + pc
			for l, v := range b[o : o+kc] {
				pan[l*sgemmNR+x] = v
			}
		}
		if nr < sgemmNR {
			for l := 0; l < kc; l++ {
				clear(pan[l*sgemmNR+nr : (l+1)*sgemmNR])
			}
		}
	}
}

// direct computes the product without packing, for tiny or skinny shapes:
// one dot product per element of C, over four partial sums.
func (d *sgemmArgs) direct(beta float32) {
	a, b, c, ldc, k, alpha := d.a, d.b, d.c, d.ldc, d.k, d.alpha
	// op(A)[i, l] = a[i·ars + l·acs], op(B)[l, j] = b[l·brs + j·bcs].
	ars, acs := d.lda, 1
	if d.transA {
		ars, acs = 1, d.lda
	}
	brs, bcs := d.ldb, 1
	if d.transB {
		brs, bcs = 1, d.ldb
	}
	for i := 0; i < d.m; i++ {
		cr := c[i*ldc : i*ldc+d.n]
		for j := range cr {
			ao, bo := i*ars, j*bcs
			var s0, s1, s2, s3 float32
			l := 0
			for ; l+4 <= k; l += 4 {
				s0 += a[ao+l*acs] * b[bo+l*brs]
				s1 += a[ao+(l+1)*acs] * b[bo+(l+1)*brs]
				s2 += a[ao+(l+2)*acs] * b[bo+(l+2)*brs]
				s3 += a[ao+(l+3)*acs] * b[bo+(l+3)*brs]
			}
			for ; l < k; l++ {
				s0 += a[ao+l*acs] * b[bo+l*brs]
			}
			if s := (s0 + s1) + (s2 + s3); beta == 0 {
				cr[j] = alpha * s
			} else {
				cr[j] = alpha*s + beta*cr[j]
			}
		}
	}
}

// sgemmScaleC sets the m×n matrix C to beta·C, without reading C when beta
// is 0.
func sgemmScaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(cr)
			continue
		}
		for j := range cr {
			cr[j] *= beta
		}
	}
}

// sgemmGrid chooses a tm×tn = t grid of threads over mp×np panels that
// minimises the largest share of work, preferring to split M on ties. A
// share is its tiles plus the packing it repeats: every worker packs the B
// panels of its columns (about 2 tiles' time per panel, counted per K
// step like the tiles) and the A panels of its rows (about 1). Without
// that, M = 128 rows against a 32128-wide LM head would split M and pack
// all of B twice.
func sgemmGrid(t, mp, np int) (tm, tn int) {
	best := -1
	for f := t; f >= 1; f-- {
		if t%f != 0 {
			continue
		}
		ms, ns := sgemmCeilDiv(mp, f), sgemmCeilDiv(np, t/f)
		if w := ms*ns + 2*ns + ms; best < 0 || w < best {
			best, tm, tn = w, f, t/f
		}
	}
	return tm, tn
}

// sgemmSplit returns the part-th of parts near-equal contiguous pieces of
// [0, n).
func sgemmSplit(n, parts, part int) (lo, hi int) {
	return n * part / parts, n * (part + 1) / parts
}

// sgemmCeilDiv returns ⌈a/b⌉ for a ≥ 0, b > 0.
func sgemmCeilDiv(a, b int) int { return (a + b - 1) / b }

// sgemmGetB returns a pooled buffer of at least n floats.
func sgemmGetB(n int) *[]float32 {
	if p, _ := sgemmBPool.Get().(*[]float32); p != nil && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// sgemmGetScratch returns a pooled scratch whose A buffer holds n floats.
func sgemmGetScratch(n int) *sgemmScratch {
	s, _ := sgemmScratchPool.Get().(*sgemmScratch)
	if s == nil {
		s = new(sgemmScratch)
	}
	if cap(s.a) < n {
		s.a = make([]float32, n)
	}
	s.a = s.a[:cap(s.a)]
	return s
}

// sgemmTransposeC reports whether a product is computed as its transpose:
// a tall C whose N lies between one and two B panels (the adapters'
// bottleneck of 24 at t5-base) would run its last panel mostly empty, so it
// runs as N rows of M columns, which the wide kernel fills. Two threads,
// GFLOP/s, 15 alternating rounds, medians: 1024×768×24 NT 65 → 103, NN 84 →
// 121, 768×1024×24 TN 77 → 126; at N = 16 (one full panel) it would lose
// (132 → 93), so it is not used there. With beta = 0 the bits are those of
// the direct product; otherwise beta·C is added after the sum instead of
// before the last K blocks (the same value up to rounding).
func sgemmTransposeC(simd, transA bool, m, n, k int) bool {
	return simd && sgemmWide && transA && n > sgemmNR && n < 2*sgemmNR && m >= 16*n && k >= 64
}
