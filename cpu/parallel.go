package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxThreads returns threads when positive, else GOMAXPROCS.
func maxThreads(threads int) int {
	if threads > 0 {
		return threads
	}
	return runtime.GOMAXPROCS(0)
}

// parallelFor splits [0, n) into at most threads contiguous chunks of at
// least grain items and calls fn on each, in parallel; it returns when all
// calls have. With one chunk fn runs on the calling goroutine.
//
// The chunks run on the calling goroutine and on the helpers of a
// process-wide pool that spin for a while after each job before they park
// (as OpenBLAS's threads do). Waking a parked core costs tens to hundreds
// of microseconds on a virtual machine — as long as a whole T5 elementwise
// op or a PHM layer takes — so back-to-back kernels must find their helpers
// awake. Nested or concurrent calls, which find the pool busy, start
// goroutines instead.
func parallelFor(threads, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	t := maxThreads(threads)
	if grain < 1 {
		grain = 1
	}
	if c := (n + grain - 1) / grain; c < t {
		t = c
	}
	if t <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + t - 1) / t
	chunks := (n + chunk - 1) / chunk
	if workers.run(fn, n, chunk, chunks) {
		return
	}
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}

// spinTime is how long a pool helper stays awake waiting for the next job.
const spinTime = 200 * time.Microsecond

// pjob is one parallelFor call on the pool: chunks are claimed with an
// atomic counter by whoever comes first, the caller included.
type pjob struct {
	fn               func(lo, hi int)
	n, chunk, chunks int
	next, done       atomic.Int64
}

// runChunks claims and runs chunks until none is left.
func (j *pjob) runChunks() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		lo := c * j.chunk
		j.fn(lo, min(lo+j.chunk, j.n))
		j.done.Add(1)
	}
}

// workerPool is the process-wide set of helper goroutines.
type workerPool struct {
	once     sync.Once
	busy     atomic.Bool // a job is in flight
	seq      atomic.Uint64
	cur      atomic.Pointer[pjob]
	sleepers atomic.Int32
	wake     chan struct{}
	size     int
}

var workers workerPool

// run runs the job on the pool and reports true, or reports false (having
// run nothing) when the pool is busy with another job.
func (p *workerPool) run(fn func(lo, hi int), n, chunk, chunks int) bool {
	p.once.Do(p.start)
	if p.size == 0 || !p.busy.CompareAndSwap(false, true) {
		return false
	}
	defer p.busy.Store(false)
	j := &pjob{fn: fn, n: n, chunk: chunk, chunks: chunks}
	p.cur.Store(j)
	p.seq.Add(1)
	for s := p.sleepers.Load(); s > 0; s-- {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	j.runChunks()
	// Every chunk is claimed; wait for the helpers still running theirs.
	for i := 0; j.done.Load() < int64(chunks); i++ {
		if i > 64 {
			runtime.Gosched()
		}
	}
	p.cur.Store(nil)
	return true
}

// start launches GOMAXPROCS−1 helpers.
func (p *workerPool) start() {
	p.size = runtime.GOMAXPROCS(0) - 1
	p.wake = make(chan struct{}, max(p.size, 1))
	for range p.size {
		go p.loop()
	}
}

// loop is a helper: it spins for spinTime waiting for a new job, runs its
// chunks, and parks on the wake channel when no job came.
func (p *workerPool) loop() {
	last := p.seq.Load()
	for {
		start := time.Now()
		for i := 0; p.seq.Load() == last; i++ {
			if i&63 != 63 {
				continue
			}
			if time.Since(start) < spinTime {
				runtime.Gosched()
				continue
			}
			p.sleepers.Add(1)
			if p.seq.Load() == last { // no job published since the check
				<-p.wake
			}
			p.sleepers.Add(-1)
			start = time.Now()
		}
		last = p.seq.Load()
		if j := p.cur.Load(); j != nil {
			j.runChunks()
		}
	}
}
