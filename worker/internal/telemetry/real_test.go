//go:build cgo

package telemetry

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRealLibrary runs the real go-nvml path. Without a driver (CI, this
// machine) Init fails: only torchgate_gpu_telemetry_available 0 is exported,
// one line is logged, nothing crashes. With a GPU every GPU reports at least
// its utilization.
func TestRealLibrary(t *testing.T) {
	var logs logBuffer
	c := New(Options{Logger: logs.logger(), Hostname: "test-host"})
	defer func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	available := testutil.ToFloat64(availableOnly{c})
	c.mu.Lock()
	initErr := c.initErr
	c.mu.Unlock()
	switch available {
	case 0:
		if !errors.Is(initErr, ErrInit) {
			t.Fatalf("unavailable but init error = %v, want ErrInit", initErr)
		}
		compareGolden(t, c, "unavailable.prom")
		if got := logs.lines(); len(got) != 1 {
			t.Errorf("log lines = %q, want exactly one", got)
		}
		t.Logf("no NVML here: %s", logs.lines())
	case 1:
		n := testutil.CollectAndCount(c, "DCGM_FI_DEV_GPU_UTIL")
		if n == 0 {
			t.Error("NVML available but no DCGM_FI_DEV_GPU_UTIL series")
		}
		t.Logf("NVML available: %d GPUs; logs %q", n, logs.lines())
	default:
		t.Fatalf("available = %v", available)
	}
}
