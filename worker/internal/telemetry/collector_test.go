//go:build cgo

package telemetry

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// compareGolden scrapes c and compares the families named (all when none)
// with testdata/<golden>.
func compareGolden(t *testing.T, c prometheus.Collector, golden string, names ...string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", golden))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f, names...); err != nil {
		t.Error(err)
	}
}

func TestCollectExposition(t *testing.T) {
	notSupported := h200
	notSupported.fail = map[string]nvml.Return{
		"GetTotalEnergyConsumption":  nvml.ERROR_NOT_SUPPORTED,
		"GetPcieThroughput":          nvml.ERROR_NOT_SUPPORTED,
		"GetTotalEccErrors":          nvml.ERROR_NOT_SUPPORTED,
		"GetRemappedRows":            nvml.ERROR_NOT_SUPPORTED,
		"GetComputeRunningProcesses": nvml.ERROR_NOT_SUPPORTED,
	}
	brokenSensor := a100
	brokenSensor.fail = map[string]nvml.Return{"GetTemperature": nvml.ERROR_UNKNOWN}
	noUUID := a100
	noUUID.fail = map[string]nvml.Return{"GetUUID": nvml.ERROR_GPU_IS_LOST}

	tests := []struct {
		name         string
		gpus         []gpu
		workerMemory bool
		golden       string
		families     []string
		wantLogs     int
	}{
		{
			name:         "two gpus export every dcgm family with dcgm labels",
			gpus:         []gpu{h200, a100},
			workerMemory: true,
			golden:       "two_gpus.prom",
			wantLogs:     0,
		},
		{
			name:     "values the gpu does not support are absent, silently",
			gpus:     []gpu{notSupported},
			golden:   "not_supported.prom",
			wantLogs: 0,
		},
		{
			name:     "a failing value is absent and logged once",
			gpus:     []gpu{h200, brokenSensor},
			golden:   "field_error.prom",
			families: []string{"DCGM_FI_DEV_GPU_TEMP", availableName},
			wantLogs: 1,
		},
		{
			name:     "a gpu without identity is left out and logged once",
			gpus:     []gpu{h200, noUUID},
			golden:   "field_error.prom",
			families: []string{"DCGM_FI_DEV_GPU_TEMP", availableName},
			wantLogs: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			c := New(Options{
				Logger:   logs.logger(),
				Hostname: "gpu-node-1",
				Now:      clock.now,
				NVML:     library(tc.gpus...),
			})
			defer c.Close()
			if tc.workerMemory {
				c.SetWorkerMemory(0, h200.uuid, 2<<30)
			}
			compareGolden(t, c, tc.golden, tc.families...)
			clock.advance(time.Hour) // a fresh reading: errors repeat, logs do not
			compareGolden(t, c, tc.golden, tc.families...)
			if got := logs.lines(); len(got) != tc.wantLogs {
				t.Errorf("log lines = %d, want %d: %q", len(got), tc.wantLogs, got)
			}
		})
	}
}

func TestInitFailureMakesNoOtherCall(t *testing.T) {
	var logs logBuffer
	// Only Init is set: any other call would panic in the mock, and the
	// call counts below would see it.
	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := New(Options{Logger: logs.logger(), Now: clock.now, NVML: lib})
	for range 3 {
		compareGolden(t, c, "unavailable.prom")
		clock.advance(time.Hour)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := len(lib.InitCalls()); n != 1 {
		t.Errorf("Init calls = %d, want 1", n)
	}
	if n := len(lib.DeviceGetCountCalls()) + len(lib.DeviceGetHandleByIndexCalls()) + len(lib.ShutdownCalls()); n != 0 {
		t.Errorf("%d NVML calls after a failed Init, want 0", n)
	}
	if got := logs.lines(); len(got) != 1 {
		t.Errorf("log lines = %q, want exactly one", got)
	}
}

func TestCacheSharesOneReadingPerInterval(t *testing.T) {
	lib := library(h200)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := New(Options{Logger: (&logBuffer{}).logger(), Now: clock.now, Interval: time.Second, NVML: lib})
	defer c.Close()

	scrape := func() { testutil.CollectAndCount(c, availableName) }
	scrape() // waits for the reading New started
	scrape()
	clock.advance(999 * time.Millisecond)
	scrape()
	if n := len(lib.DeviceGetCountCalls()); n != 1 {
		t.Errorf("readings within the interval = %d, want 1", n)
	}
	clock.advance(time.Millisecond)
	scrape()
	if n := len(lib.DeviceGetCountCalls()); n != 2 {
		t.Errorf("readings after the interval = %d, want 2", n)
	}
	if n := len(lib.InitCalls()); n != 1 {
		t.Errorf("Init calls = %d, want 1", n)
	}
}

// hangingLibrary returns a mock whose DeviceGetCount blocks until release is
// closed.
func hangingLibrary(release <-chan struct{}) *mock.Interface {
	lib := library(h200)
	lib.DeviceGetCountFunc = func() (int, nvml.Return) {
		<-release
		return 1, nvml.SUCCESS
	}
	return lib
}

func TestSlowNVMLBoundsTheScrape(t *testing.T) {
	release := make(chan struct{})
	var logs logBuffer
	lib := hangingLibrary(release)
	c := New(Options{Logger: logs.logger(), Timeout: 20 * time.Millisecond, NVML: lib})
	defer c.Close()

	// Each scrape gives up after Timeout; none starts a second reading.
	for range 3 {
		compareGolden(t, c, "unavailable.prom")
	}
	if n := len(lib.DeviceGetCountCalls()); n != 1 {
		t.Errorf("readings started while one hangs = %d, want 1", n)
	}
	if got := logs.lines(); len(got) != 1 {
		t.Errorf("log lines = %q, want one timeout line", got)
	}

	close(release)
	c.timeout = time.Minute // the reading now ends: wait for it
	if got := testutil.ToFloat64(availableOnly{c}); got != 1 {
		t.Errorf("available after NVML answers = %v, want 1", got)
	}
}

// availableOnly exposes only torchgate_gpu_telemetry_available of a Collector.
type availableOnly struct{ c *Collector }

func (a availableOnly) Describe(ch chan<- *prometheus.Desc) { ch <- a.c.descs.available }

func (a availableOnly) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() {
		a.c.Collect(all)
		close(all)
	}()
	for m := range all {
		if m.Desc() == a.c.descs.available {
			ch <- m
		}
	}
}

func TestCloseShutsNVMLDownOnce(t *testing.T) {
	lib := library(h200)
	c := New(Options{Logger: (&logBuffer{}).logger(), NVML: lib})
	testutil.CollectAndCount(c) // the first reading has ended
	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if n := len(lib.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown calls = %d, want 1", n)
	}
	compareGolden(t, c, "unavailable.prom")
	if n := len(lib.DeviceGetCountCalls()); n != 1 {
		t.Errorf("readings after Close = %d, want none beyond the first", n-1)
	}
}

func TestCloseWhileNVMLHangs(t *testing.T) {
	release := make(chan struct{})
	shutdown := make(chan struct{})
	lib := hangingLibrary(release)
	lib.ShutdownFunc = func() nvml.Return {
		close(shutdown)
		return nvml.SUCCESS
	}
	c := New(Options{Logger: (&logBuffer{}).logger(), NVML: lib})
	if err := c.Close(); err != nil { // returns although the reading hangs
		t.Fatalf("Close: %v", err)
	}
	if n := len(lib.ShutdownCalls()); n != 0 {
		t.Fatalf("Shutdown ran during a reading (%d calls)", n)
	}
	close(release)
	select {
	case <-shutdown: // the reading shut NVML down when it ended
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown never called after the hanging reading ended")
	}
}

func TestPedanticRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := New(Options{Logger: (&logBuffer{}).logger(), NVML: library(h200, a100)})
	defer c.Close()
	c.SetWorkerMemory(1, a100.uuid, 1<<20)
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if want := len(fieldDefs) + 3; len(families) != want {
		t.Errorf("families = %d, want %d", len(families), want)
	}
}
