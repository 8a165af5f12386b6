//go:build cgo

package telemetry

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// gpu is what a mock GPU reports. fail maps a method name to the Return it
// gives instead of its value.
type gpu struct {
	uuid, name, busID string
	smMHz, memMHz     uint32
	tempC, powerMW    uint32
	energyMJ          uint64
	txKB, rxKB        uint32
	replays           int
	util, memUtil     uint32
	freeBytes, used   uint64
	ecc               map[[2]int]uint64 // {MemoryErrorType, EccCounterType} -> count
	corrRows, uncRows int
	remapFailed       bool
	processes         []nvml.ProcessInfo
	fail              map[string]nvml.Return
}

// ret is the Return of method m.
func (g gpu) ret(m string) nvml.Return {
	if r, ok := g.fail[m]; ok {
		return r
	}
	return nvml.SUCCESS
}

// device returns a mock.Device that reports g.
func (g gpu) device() *mock.Device {
	return &mock.Device{
		GetUUIDFunc: func() (string, nvml.Return) { return g.uuid, g.ret("GetUUID") },
		GetNameFunc: func() (string, nvml.Return) { return g.name, g.ret("GetName") },
		GetPciInfoFunc: func() (nvml.PciInfo, nvml.Return) {
			var p nvml.PciInfo
			for i, c := range []byte(g.busID) {
				p.BusId[i] = int8(c)
			}
			return p, g.ret("GetPciInfo")
		},
		GetClockInfoFunc: func(t nvml.ClockType) (uint32, nvml.Return) {
			if t == nvml.CLOCK_SM {
				return g.smMHz, g.ret("GetClockInfo")
			}
			return g.memMHz, g.ret("GetClockInfo")
		},
		GetTemperatureFunc: func(nvml.TemperatureSensors) (uint32, nvml.Return) {
			return g.tempC, g.ret("GetTemperature")
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) { return g.powerMW, g.ret("GetPowerUsage") },
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) {
			return g.energyMJ, g.ret("GetTotalEnergyConsumption")
		},
		GetPcieThroughputFunc: func(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
			if c == nvml.PCIE_UTIL_TX_BYTES {
				return g.txKB, g.ret("GetPcieThroughput")
			}
			return g.rxKB, g.ret("GetPcieThroughput")
		},
		GetPcieReplayCounterFunc: func() (int, nvml.Return) { return g.replays, g.ret("GetPcieReplayCounter") },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: g.util, Memory: g.memUtil}, g.ret("GetUtilizationRates")
		},
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: g.freeBytes + g.used, Free: g.freeBytes, Used: g.used}, g.ret("GetMemoryInfo")
		},
		GetTotalEccErrorsFunc: func(e nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
			return g.ecc[[2]int{int(e), int(c)}], g.ret("GetTotalEccErrors")
		},
		GetRemappedRowsFunc: func() (int, int, bool, bool, nvml.Return) {
			return g.corrRows, g.uncRows, false, g.remapFailed, g.ret("GetRemappedRows")
		},
		GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			return g.processes, g.ret("GetComputeRunningProcesses")
		},
	}
}

// library returns a mock NVML with the given GPUs whose Init and Shutdown
// succeed.
func library(gpus ...gpu) *mock.Interface {
	devices := make([]nvml.Device, len(gpus))
	for i, g := range gpus {
		devices[i] = g.device()
	}
	return &mock.Interface{
		InitFunc:                   func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:               func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc:         func() (int, nvml.Return) { return len(devices), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) { return devices[i], nvml.SUCCESS },
	}
}

// h200 and a100 are two fully reporting GPUs.
var (
	h200 = gpu{
		uuid: "GPU-6c5a2d1e-0b7f-4a39-9e2c-1f0e3d4c5b6a", name: "NVIDIA H200", busID: "00000000:19:00.0",
		smMHz: 1980, memMHz: 3201, tempC: 41, powerMW: 123456, energyMJ: 987654321,
		txKB: 1200, rxKB: 3400, replays: 2, util: 87, memUtil: 42,
		freeBytes: 100 << 30, used: 40<<30 + 512<<10, // used rounds down to whole MiB
		ecc: map[[2]int]uint64{
			{int(nvml.MEMORY_ERROR_TYPE_CORRECTED), int(nvml.VOLATILE_ECC)}:    3,
			{int(nvml.MEMORY_ERROR_TYPE_UNCORRECTED), int(nvml.VOLATILE_ECC)}:  0,
			{int(nvml.MEMORY_ERROR_TYPE_CORRECTED), int(nvml.AGGREGATE_ECC)}:   17,
			{int(nvml.MEMORY_ERROR_TYPE_UNCORRECTED), int(nvml.AGGREGATE_ECC)}: 1,
		},
		corrRows: 4, uncRows: 1,
		processes: []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 38 << 30}},
	}
	a100 = gpu{
		uuid: "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", name: "NVIDIA A100-SXM4-80GB", busID: "00000000:3B:00.0",
		smMHz: 1410, memMHz: 1593, tempC: 35, powerMW: 61000, energyMJ: 5000,
		txKB: 0, rxKB: 17, replays: 0, util: 0, memUtil: 0,
		freeBytes: 80 << 30, used: 0,
		ecc:         map[[2]int]uint64{},
		remapFailed: true,
		processes:   []nvml.ProcessInfo{{Pid: 7, UsedGpuMemory: notAvailable}},
	}
)

// logBuffer is a slog destination safe for the Collector's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the logged lines.
func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, nil))
}
