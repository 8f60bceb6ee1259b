package kernels

// Discarder is an optional Backend interface for buffers whose contents
// are no longer needed for a while but whose identity is: Discard(x) gives
// the memory of x back to the backend and leaves x reading as zeros; the
// next operation that writes x (or reads it) takes memory again, zeroed.
// Filling a discarded buffer with 0 keeps it discarded. A Trainer that
// updates each parameter as soon as its gradient is complete discards the
// gradient at once, so that the gradients of a whole model never exist
// together. x must be a whole buffer made by Alloc, not a view; the
// backend may keep the memory of a small buffer and zero it instead.
type Discarder interface {
	Discard(x Buffer) error
}

// Discard discards x when b is a Discarder, and fills it with zeros
// otherwise: either way x reads as zeros afterwards.
func Discard(b Backend, x Buffer) error {
	if d, ok := b.(Discarder); ok {
		return d.Discard(x)
	}
	return b.Fill(x, 0)
}
