package torchscript

import (
	"fmt"
	"os"
	"syscall"
)

// pageSize is the granularity of dropPages.
var pageSize = os.Getpagesize()

// mapFile maps size bytes of f read-only; unmap releases the mapping.
func mapFile(f *os.File, size int64) (data []byte, unmap func() error, err error) {
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

// dropPages removes page-aligned pages of the read-only shared file mapping from the
// resident set (MADV_DONTNEED): for such a mapping the next read refetches the file's bytes.
func dropPages(b []byte) error {
	if err := syscall.Madvise(b, syscall.MADV_DONTNEED); err != nil {
		return fmt.Errorf("torchscript: madvise: %w", err)
	}
	return nil
}
