package telemetry

import "errors"

// Errors the Collector reports. They reach callers only through Close and the
// single log line that says why telemetry is unavailable; a scrape never fails
// because of them.
var (
	// ErrNoCgo means the worker was built with CGO_ENABLED=0, so the NVML
	// binding, which needs cgo, is not part of the binary.
	ErrNoCgo = errors.New("telemetry: built without cgo, nvml is unavailable")

	// ErrInit means nvml.Init failed (no driver, no libnvidia-ml, no device
	// nodes). The Collector makes no further NVML call after it.
	ErrInit = errors.New("telemetry: nvml init failed")

	// ErrTimeout means NVML did not answer within Options.Timeout; the scrape
	// went ahead without GPU series.
	ErrTimeout = errors.New("telemetry: nvml did not answer in time")

	// ErrSample means NVML answered with an error while reading GPUs.
	ErrSample = errors.New("telemetry: nvml read failed")
)
