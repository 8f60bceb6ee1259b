package kernels

// InPlaceHeads is an optional Backend interface. A backend that implements
// it with true says that a call costs it no more than the work it does (no
// kernel launch, no queue): model code may then run one batched product per
// attention head, reading and writing the heads in place in the
// [rows, heads·d] layout of the projections through the leading dimensions
// and batch strides of GemmParams, instead of one product over all heads on
// permuted copies. The CPU backend implements it; a GPU backend, where each
// call is a launch, does not.
type InPlaceHeads interface {
	InPlaceHeads() bool
}

// HeadsInPlace reports whether b implements InPlaceHeads with true.
func HeadsInPlace(b Backend) bool {
	h, ok := b.(InPlaceHeads)
	return ok && h.InPlaceHeads()
}
