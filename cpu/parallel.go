package cpu

import (
	"runtime"
	"sync"
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
	var wg sync.WaitGroup
	chunk := (n + t - 1) / t
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
