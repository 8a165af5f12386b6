//go:build cuda

package cuda

// #cgo LDFLAGS: -lcuda -ldl
// #include <stdlib.h>
// #include "shim_cuda.h"
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"gorgonia.org/cu"
)

// blasOnce loads cuBLAS once per process: $TORCHGATE_CUBLAS, else libcublas.so.13, .12,
// .11 from the loader's path (PyTorch's wheels ship one under site-packages/nvidia).
var blasOnce = sync.OnceValue(func() error {
	var path *C.char
	if p := os.Getenv("TORCHGATE_CUBLAS"); p != "" {
		path = C.CString(p)
		defer C.free(unsafe.Pointer(path))
	}
	if msg := C.tg_blas_open(path); msg != nil {
		return fmt.Errorf("%w: %s", ErrNoCUDA, C.GoString(msg))
	}
	return nil
})

// blasHandle is a cuBLAS handle bound to one stream.
type blasHandle struct {
	h    C.cublasHandle_t
	tf32 C.int
}

// newBLAS makes a handle running on s; exact selects FP32 compute instead of TF32.
func newBLAS(s cu.Stream, exact bool) (*blasHandle, error) {
	if err := blasOnce(); err != nil {
		return nil, err
	}
	b := &blasHandle{tf32: 1}
	if exact {
		b.tf32 = 0
	}
	// cu.Stream.C returns cu's own cgo type; both are the driver's CUstream pointer.
	if st := C.tg_blas_create(&b.h, C.CUstream(unsafe.Pointer(s.C()))); st != 0 {
		return nil, fmt.Errorf("%w: cublasCreate: status %d", ErrDevice, int(st))
	}
	return b, nil
}

func (b *blasHandle) close() error {
	if st := C.tg_blas_destroy(b.h); st != 0 {
		return fmt.Errorf("%w: cublasDestroy: status %d", ErrDevice, int(st))
	}
	return nil
}

// gemm runs a resolved column-major product (pointers already device addresses).
func (b *blasHandle) gemm(g *ColMajor, a, bp, c uintptr) error {
	flag := func(t bool) C.int {
		if t {
			return 1
		}
		return 0
	}
	st := C.tg_gemm(b.h, b.tf32, flag(g.TransA), flag(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
		C.ulonglong(a), C.int(g.LDA), C.longlong(g.StrideA), C.ulonglong(bp), C.int(g.LDB), C.longlong(g.StrideB),
		C.float(g.Beta), C.ulonglong(c), C.int(g.LDC), C.longlong(g.StrideC), C.int(g.Batch))
	if st != 0 {
		return fmt.Errorf("%w: cublas gemm %dx%dx%d batch %d: status %d", ErrDevice, g.M, g.N, g.K, g.Batch, int(st))
	}
	return nil
}

// pinned is a growable page-locked host buffer for the transfers of one backend.
type pinned struct {
	p    unsafe.Pointer
	size int
}

// bytes returns the buffer as at least n bytes, reallocating when it is smaller.
func (h *pinned) bytes(n int) ([]byte, error) {
	if n > h.size {
		if err := h.free(); err != nil {
			return nil, err
		}
		size := max(n, 2*h.size)
		if st := C.tg_host_alloc(&h.p, C.size_t(size)); st != 0 {
			return nil, fmt.Errorf("%w: cuMemHostAlloc %d bytes: status %d", ErrDevice, size, int(st))
		}
		h.size = size
	}
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*byte)(h.p), n), nil
}

func (h *pinned) free() error {
	if h.p == nil {
		return nil
	}
	st := C.tg_host_free(h.p)
	h.p, h.size = nil, 0
	if st != 0 {
		return fmt.Errorf("%w: cuMemFreeHost: status %d", ErrDevice, int(st))
	}
	return nil
}
