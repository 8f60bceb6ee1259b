package kernels

// UninitAllocator is an optional Backend interface for memory that is
// written whole before it is read (the outputs of products, norms and
// permutations): AllocUninit skips the zeroing that Alloc does, which in a
// training step is most of the memory traffic of allocation. The contents
// are unspecified (on cpu: what a freed buffer left, or NaN in its poison
// mode); reading an element before writing it is a bug of the caller.
type UninitAllocator interface {
	AllocUninit(dt DType, n int) (Buffer, error)
}

// AllocUninit returns b.AllocUninit(dt, n) when b is an UninitAllocator, and
// b.Alloc(dt, n) (zeroed) otherwise.
func AllocUninit(b Backend, dt DType, n int) (Buffer, error) {
	if u, ok := b.(UninitAllocator); ok {
		return u.AllocUninit(dt, n)
	}
	return b.Alloc(dt, n)
}
