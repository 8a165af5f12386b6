//go:build cgo

package telemetry

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// deviceReader reads one GPU and gathers the errors of the values it skips.
type deviceReader struct {
	index int
	dev   nvml.Device
	errs  []error
}

// ok reports whether ret is SUCCESS. ERROR_NOT_SUPPORTED is the GPU saying
// the value does not exist on it, so it is dropped silently; any other
// failure is kept for the log.
func (r *deviceReader) ok(ret nvml.Return, what string) bool {
	switch ret {
	case nvml.SUCCESS:
		return true
	case nvml.ERROR_NOT_SUPPORTED:
		return false
	default:
		r.errs = append(r.errs, fmt.Errorf("%w: gpu %d %s: %w", ErrSample, r.index, what, ret))
		return false
	}
}

// readDevice reads GPU i. It returns nil when the GPU cannot be identified.
func readDevice(lib nvml.Interface, i int) (*deviceSample, error) {
	dev, ret := lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: gpu %d handle: %w", ErrSample, i, ret)
	}
	r := &deviceReader{index: i, dev: dev}
	d := &deviceSample{index: i}
	if !r.identify(d) {
		return nil, errors.Join(r.errs...)
	}
	r.clocks(d)
	r.thermalAndPower(d)
	r.pcie(d)
	r.utilizationAndMemory(d)
	r.ecc(d)
	r.remappedRows(d)
	r.processes(d)
	return d, errors.Join(r.errs...)
}

// identify reads the label values; UUID is required, the others are left
// empty where NVML has none.
func (r *deviceReader) identify(d *deviceSample) bool {
	uuid, ret := r.dev.GetUUID()
	if ret != nvml.SUCCESS {
		r.errs = append(r.errs, fmt.Errorf("%w: gpu %d uuid: %w", ErrSample, r.index, ret))
		return false
	}
	d.uuid = uuid
	if name, ret := r.dev.GetName(); r.ok(ret, "name") {
		d.model = name
	}
	if pci, ret := r.dev.GetPciInfo(); r.ok(ret, "pci info") {
		d.busID = cString(pci.BusId[:])
	}
	return true
}

func (r *deviceReader) clocks(d *deviceSample) {
	if mhz, ret := r.dev.GetClockInfo(nvml.CLOCK_SM); r.ok(ret, "sm clock") {
		d.set(fieldSMClock, float64(mhz))
	}
	if mhz, ret := r.dev.GetClockInfo(nvml.CLOCK_MEM); r.ok(ret, "memory clock") {
		d.set(fieldMemClock, float64(mhz))
	}
}

func (r *deviceReader) thermalAndPower(d *deviceSample) {
	if c, ret := r.dev.GetTemperature(nvml.TEMPERATURE_GPU); r.ok(ret, "temperature") {
		d.set(fieldGPUTemp, float64(c))
	}
	if mw, ret := r.dev.GetPowerUsage(); r.ok(ret, "power") {
		d.set(fieldPowerUsage, float64(mw)/1000)
	}
	if mj, ret := r.dev.GetTotalEnergyConsumption(); r.ok(ret, "energy") {
		d.set(fieldTotalEnergy, float64(mj))
	}
}

// pcie reads the PCIe counters. NVML measures each throughput over 20 ms, so
// these are the slowest reads of a sample.
func (r *deviceReader) pcie(d *deviceSample) {
	if kb, ret := r.dev.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES); r.ok(ret, "pcie tx") {
		d.set(fieldPCIeTx, float64(kb))
	}
	if kb, ret := r.dev.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES); r.ok(ret, "pcie rx") {
		d.set(fieldPCIeRx, float64(kb))
	}
	if n, ret := r.dev.GetPcieReplayCounter(); r.ok(ret, "pcie replay") {
		d.set(fieldPCIeReplay, float64(n))
	}
}

func (r *deviceReader) utilizationAndMemory(d *deviceSample) {
	if u, ret := r.dev.GetUtilizationRates(); r.ok(ret, "utilization") {
		d.set(fieldGPUUtil, float64(u.Gpu))
		d.set(fieldMemCopyUtil, float64(u.Memory))
	}
	if m, ret := r.dev.GetMemoryInfo(); r.ok(ret, "memory") {
		// dcgm-exporter reports whole MiB.
		d.set(fieldFBFree, float64(m.Free>>20))
		d.set(fieldFBUsed, float64(m.Used>>20))
	}
}

// eccCounters maps the dcgm ECC totals to NVML's error and counter types.
var eccCounters = []struct {
	f       field
	errType nvml.MemoryErrorType
	counter nvml.EccCounterType
	what    string
}{
	{fieldECCSBEVol, nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC, "ecc corrected volatile"},
	{fieldECCDBEVol, nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC, "ecc uncorrected volatile"},
	{fieldECCSBEAgg, nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.AGGREGATE_ECC, "ecc corrected aggregate"},
	{fieldECCDBEAgg, nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.AGGREGATE_ECC, "ecc uncorrected aggregate"},
}

func (r *deviceReader) ecc(d *deviceSample) {
	for _, c := range eccCounters {
		if n, ret := r.dev.GetTotalEccErrors(c.errType, c.counter); r.ok(ret, c.what) {
			d.set(c.f, float64(n))
		}
	}
}

func (r *deviceReader) remappedRows(d *deviceSample) {
	corrected, uncorrected, _, failed, ret := r.dev.GetRemappedRows()
	if !r.ok(ret, "remapped rows") {
		return
	}
	d.set(fieldCorrectableRemappedRows, float64(corrected))
	d.set(fieldUncorrectableRemappedRows, float64(uncorrected))
	d.set(fieldRowRemapFailure, boolValue(failed))
}

// processes reads the memory of each compute process. NVML reports
// VALUE_NOT_AVAILABLE where it may not tell (e.g. without permission).
func (r *deviceReader) processes(d *deviceSample) {
	procs, ret := r.dev.GetComputeRunningProcesses()
	if !r.ok(ret, "processes") {
		return
	}
	for _, p := range procs {
		if p.UsedGpuMemory == notAvailable {
			continue
		}
		d.processes = append(d.processes, processMemory{pid: p.Pid, bytes: p.UsedGpuMemory})
	}
}

// set records the value of f.
func (d *deviceSample) set(f field, v float64) {
	d.values[f] = v
	d.present[f] = true
}

// notAvailable is NVML_VALUE_NOT_AVAILABLE as an unsigned long long.
const notAvailable = ^uint64(0)

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// cString converts a NUL-terminated C char array to a string.
func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
