package cpu

import (
	"os"
	"runtime"
	"sync/atomic"
)

// Shared-B threading of the packed products.
//
// The static grid of blocked (one rectangle of C per thread, each packing
// the B panels of its own column group) packs every B panel once per row
// of the grid: with the M split that 1024-row products choose on two
// cores, both threads pack all of B, which is a frozen weight read from
// DRAM, and a thread whose core is taken by another guest for a moment
// holds the other up at the end of the product. sharedBlocked instead runs
// the jc/pc blocks in order with every thread working on the same block:
//
//	pack   the block's B panels, claimed a few at a time by whoever comes,
//	       into one of two shared buffers (the next block's packing
//	       overlaps the end of this block's products);
//	wait   until every panel of the block is packed;
//	run    the block's units — a row block (at most MC rows of A, packed
//	       by the thread that claims it) × a chunk of its column panels —
//	       claimed one at a time; a unit of a later K block of the same
//	       columns first waits for the same unit of the block before it
//	       (it accumulates into the same C tiles), and nothing else.
//
// A block packs into the buffer of the block two before it, so its packing
// first waits for all of that block's units (they read the buffer); with B
// read in place there is nothing to pack and no such wait. Waiting per unit
// instead of for the whole previous block lets a thread that finishes its
// last unit go on with the next block while the other finishes its own
// (t5-base 128/16 step, noisy host: the block-wide wait held the threads
// 0.04–0.06 thread-seconds a step).
//
// Every wait is on work that a running thread has claimed, so a thread that
// starts late (or never) only leaves more of the work to the others: the
// caller alone finishes the product if no helper comes. The results are
// the same bits as the static grid (each C tile sees the same K blocks in
// the same order through the same kernels).

// sgemmShareB selects sharedBlocked for the packed products on more than
// one thread (COMPACTER_CPU_SHAREB=0 keeps the static grid, e.g. to compare
// the two). It is decided once, at init.
var sgemmShareB = os.Getenv("COMPACTER_CPU_SHAREB") != "0"

// sharedBlocked runs the packed product on t threads sharing each packed B
// block; per is the row block in MR panels, kc and nc the K and N blocks.
func (d *sgemmArgs) sharedBlocked(t, per, mPanels, kc, nc int, beta float32) {
	n, k := d.n, d.k
	nj, np := sgemmCeilDiv(n, nc), sgemmCeilDiv(k, kc)
	blocks := nj * np
	rows := sgemmCeilDiv(mPanels, per)
	// Column chunks: enough units for the threads to balance (at least 2t),
	// in pairs of panels for the 12×32 kernel.
	chunks := 1
	if rows < 2*t {
		chunks = sgemmCeilDiv(2*t, rows)
	}
	units := rows * chunks
	// Per block: next panel to pack, panels packed, next unit, units done;
	// then per block and unit: done.
	ctr := make([]atomic.Int32, 4*blocks)
	done := make([]atomic.Bool, blocks*units)
	const packGroup = 4 // B panels claimed at a time
	bufs := [2]*[]float32{sgemmGetB(kc * nc), sgemmGetB(kc * nc)}
	defer sgemmBPool.Put(bufs[0])
	defer sgemmBPool.Put(bufs[1])

	parallelFor(t, t, 1, func(lo, hi int) {
		s := sgemmGetScratch(per * sgemmMR * kc)
		defer sgemmScratchPool.Put(s)
		for range hi - lo {
			packedB, packedRow := -1, -1 // the block and row block in s.a
			for b := range blocks {
				jc, pc := (b/np)*nc, (b%np)*kc
				ncur, kcur := min(nc, n-jc), min(kc, k-pc)
				nPanels := sgemmCeilDiv(ncur, sgemmNR)
				bp := (*bufs[b&1])[:nPanels*kcur*sgemmNR]
				c := ctr[4*b : 4*b+4]
				// B read in place: only a partial last panel is packed.
				first := 0
				if d.inPlaceB {
					first = ncur / sgemmNR
				}
				if first < nPanels && b >= 2 {
					// bp was block b-2's: its units must be done reading it.
					sgemmWait(&ctr[4*(b-2)+3], units)
				}
				for {
					q0 := first + int(c[0].Add(packGroup)) - packGroup
					if q0 >= nPanels {
						break
					}
					q1 := min(q0+packGroup, nPanels)
					d.packB(bp, q0, q1, pc, kcur, jc, ncur)
					c[1].Add(int32(q1 - q0))
				}
				sgemmWait(&c[1], nPanels-first)
				betaK := beta
				if pc > 0 {
					betaK = 1
				}
				chunk := sgemmCeilDiv(sgemmCeilDiv(nPanels, chunks), 2) * 2
				for {
					u := int(c[2].Add(1)) - 1
					if u >= units {
						break
					}
					if pc > 0 {
						// The same C tiles, one K block earlier.
						sgemmWaitDone(&done[(b-1)*units+u])
					}
					r, q := u/chunks, u%chunks
					ib, ie := r*per, min((r+1)*per, mPanels)
					q0, q1 := q*chunk, min((q+1)*chunk, nPanels)
					if q0 < q1 {
						if packedB != b || packedRow != r {
							d.packBlockA(s.a, ib, ie, pc, kcur)
							packedB, packedRow = b, r
						}
						d.packedTiles(s, bp, ib, ie, q0, q1, pc, kcur, jc, ncur, betaK)
					}
					done[b*units+u].Store(true)
					c[3].Add(1)
				}
			}
		}
	})
}

// sgemmWaitDone spins until *x is set, yielding after the first few
// checks, like sgemmWait.
func sgemmWaitDone(x *atomic.Bool) {
	for i := 0; !x.Load(); i++ {
		if i > 64 {
			runtime.Gosched()
		}
	}
}

// sgemmWait spins until *x reaches want, yielding after the first few
// checks. The counts it waits on belong to work that a running thread has
// claimed.
func sgemmWait(x *atomic.Int32, want int) {
	for i := 0; int(x.Load()) < want; i++ {
		if i > 64 {
			runtime.Gosched()
		}
	}
}
