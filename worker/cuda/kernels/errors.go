package kernels

import "errors"

// Sentinel errors; returned errors wrap them (test with errors.Is).
var (
	// ErrArch reports a GPU older than compute capability 8.0 (the oldest PTX target here).
	ErrArch = errors.New("kernels: compute capability below 8.0")
	// ErrNoKernel reports a kernel name the PTX does not define.
	ErrNoKernel = errors.New("kernels: no such kernel")
)
