package fastfood

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkLog is log2 of the elements in one unit of parallel per-element work.
const chunkLog = 16

// forChunks calls fn(c) for every c in [0, n) on up to threads goroutines
// (0 means GOMAXPROCS), each c exactly once, and returns when all have run.
func forChunks(threads, n int, fn func(c int)) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, n)
	if threads <= 1 {
		for c := range n {
			fn(c)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= n {
					return
				}
				fn(c)
			}
		})
	}
	wg.Wait()
}
