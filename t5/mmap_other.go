//go:build !unix

package t5

import "os"

// mapFile reads a whole file (platforms without mmap).
func mapFile(path string) (data []byte, release func() error, err error) {
	data, err = os.ReadFile(path)
	return data, func() error { return nil }, err
}
