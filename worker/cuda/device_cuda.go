//go:build cuda

package cuda

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
)

// driverAlloc is the Pool's allocator in the GPU build: cuMemAlloc / cuMemFree in the
// backend's context (the caller has made it current).
type driverAlloc struct{}

func (driverAlloc) Alloc(n int64) (uintptr, error) {
	p, err := cu.MemAlloc(n)
	if err != nil {
		return 0, fmt.Errorf("%w: cuMemAlloc %d bytes: %w", ErrDevice, n, err)
	}
	return uintptr(p), nil
}

func (driverAlloc) Free(p uintptr) error {
	if err := cu.MemFree(cu.DevicePtr(p)); err != nil {
		return fmt.Errorf("%w: cuMemFree: %w", ErrDevice, err)
	}
	return nil
}

// device is one GPU's primary context, the kernel module loaded in it and a stream.
type device struct {
	dev    cu.Device
	ctx    cu.CUContext
	stream cu.Stream
	mod    cu.Module
	fns    map[kernels.Name]cu.Function
}

// openDevice retains the primary context of GPU ordinal, loads the PTX for its compute
// capability and makes a non-blocking stream. The calling goroutine must be locked to its
// OS thread; the context stays current on it.
func openDevice(ordinal int) (*device, error) {
	n, err := cu.NumDevices()
	if err != nil || ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("%w: device %d of %d (%v)", ErrNoCUDA, ordinal, n, err)
	}
	d := &device{dev: cu.Device(ordinal), fns: map[kernels.Name]cu.Function{}}
	if d.ctx, err = d.dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("%w: retain context: %w", ErrDevice, err)
	}
	if err := d.init(); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *device) init() error {
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("%w: set context: %w", ErrDevice, err)
	}
	major, err := d.dev.Attribute(cu.ComputeCapabilityMajor)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDevice, err)
	}
	minor, err := d.dev.Attribute(cu.ComputeCapabilityMinor)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDevice, err)
	}
	ptx, err := kernels.PTX(major, minor)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoCUDA, err)
	}
	if d.mod, err = cu.LoadData(ptx); err != nil {
		return fmt.Errorf("%w: load PTX: %w", ErrDevice, err)
	}
	for _, name := range kernels.Names {
		f, err := d.mod.Function(string(name))
		if err != nil {
			return fmt.Errorf("%w: kernel %s: %w", ErrDevice, name, err)
		}
		d.fns[name] = f
	}
	if d.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return fmt.Errorf("%w: stream: %w", ErrDevice, err)
	}
	return nil
}

// current makes the device's context current on the calling (locked) thread.
func (d *device) current() error {
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("%w: set context: %w", ErrDevice, err)
	}
	return nil
}

// launch runs kernel k with resolved 8-byte parameters on the stream.
func (d *device) launch(k *Kernel, params []unsafe.Pointer) error {
	l := k.Launch
	if err := d.fns[k.Name].Launch(l.Grid, 1, 1, l.Block, 1, 1, l.Shared, d.stream, params); err != nil {
		return fmt.Errorf("%w: launch %s: %w", ErrDevice, k.Name, err)
	}
	return nil
}

func (d *device) sync() error {
	if err := d.stream.Synchronize(); err != nil {
		return fmt.Errorf("%w: stream: %w", ErrDevice, err)
	}
	return nil
}

// close releases the stream, the module and the context reference.
func (d *device) close() {
	var zero cu.Stream
	if d.stream != zero {
		_ = d.stream.Destroy()
	}
	var noMod cu.Module
	if d.mod != noMod {
		_ = d.mod.Unload()
	}
	_ = d.dev.ReleasePrimaryCtx()
}
