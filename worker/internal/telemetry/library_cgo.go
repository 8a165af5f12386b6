//go:build cgo

package telemetry

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Library is the NVML API the Collector reads: go-nvml's nvml.Interface.
type Library = nvml.Interface

// newSampler returns a sampler over lib, or over the real libnvidia-ml when
// lib is nil. Creating it loads nothing; init does.
func newSampler(lib Library) sampler {
	if lib == nil {
		lib = nvml.New()
	}
	return &nvmlSampler{lib: lib}
}

// nvmlSampler reads GPUs through NVML.
type nvmlSampler struct {
	lib nvml.Interface
}

var _ sampler = (*nvmlSampler)(nil)

// init calls nvml.Init. Its result gates every other call: after a failed
// Init, a call into NVML ends the process.
func (s *nvmlSampler) init() error {
	if ret := s.lib.Init(); ret != nvml.SUCCESS {
		return fmt.Errorf("%w: %w", ErrInit, ret)
	}
	return nil
}

// shutdown calls nvml.Shutdown.
func (s *nvmlSampler) shutdown() error {
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("telemetry: nvml shutdown: %w", ret)
	}
	return nil
}

// sample reads every GPU NVML lists. A GPU whose handle or identity cannot be
// read is left out; a value NVML does not support is left out silently, any
// other failed value is left out and reported in the returned error.
func (s *nvmlSampler) sample() ([]deviceSample, error) {
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: device count: %w", ErrSample, ret)
	}
	devices := make([]deviceSample, 0, n)
	var errs []error
	for i := range n {
		d, err := readDevice(s.lib, i)
		if err != nil {
			errs = append(errs, err)
		}
		if d != nil {
			devices = append(devices, *d)
		}
	}
	return devices, errors.Join(errs...)
}
