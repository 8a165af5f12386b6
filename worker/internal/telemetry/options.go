package telemetry

import (
	"log/slog"
	"os"
	"time"
)

// Defaults for the zero fields of Options.
const (
	// DefaultInterval is the longest a scrape reuses the previous reading.
	DefaultInterval = time.Second
	// DefaultTimeout bounds how long a scrape waits for NVML.
	DefaultTimeout = 2 * time.Second
)

// Options configures a Collector. A zero Options consists entirely of
// default values.
type Options struct {
	// Logger receives the line that says why telemetry is unavailable and
	// NVML read errors (each distinct one once). Default: slog.Default().
	Logger *slog.Logger

	// Hostname is the value of dcgm-exporter's Hostname label (in Kubernetes,
	// pass the node name). Default: os.Hostname().
	Hostname string

	// Interval is the cache lifetime: scrapes closer together than this share
	// one NVML reading. Default: DefaultInterval.
	Interval time.Duration

	// Timeout bounds the wait of a scrape for NVML; a scrape that runs out of
	// it exports torchgate_gpu_telemetry_available 0 and no GPU series.
	// Default: DefaultTimeout.
	Timeout time.Duration

	// Now is the clock for the cache. Default: time.Now.
	Now func() time.Time

	// NVML is the library to read. Default: the real libnvidia-ml, loaded at
	// run time. Tests pass github.com/NVIDIA/go-nvml/pkg/nvml/mock.Interface.
	NVML Library
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname() // an unknown host leaves the label empty
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
