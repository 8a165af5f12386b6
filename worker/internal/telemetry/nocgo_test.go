//go:build !cgo

package telemetry

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWithoutCgoTelemetryIsUnavailable(t *testing.T) {
	var logs bytes.Buffer
	c := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 2 {
		if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP torchgate_gpu_telemetry_available 1 when this scrape carries GPU series read from NVML, 0 when NVML is unavailable, failed or too slow.
# TYPE torchgate_gpu_telemetry_available gauge
torchgate_gpu_telemetry_available 0
`)); err != nil {
			t.Error(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !errors.Is(c.initErr, ErrNoCgo) {
		t.Errorf("init error = %v, want ErrNoCgo", c.initErr)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Errorf("log lines = %d, want 1: %s", n, logs.String())
	}
}
