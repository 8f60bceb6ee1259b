package tokenizer

import "unsafe"

// unsafeString views b as a string without copying; b must not be modified
// while the string is in use.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
