package telemetry

import "github.com/prometheus/client_golang/prometheus"

// field names one per-GPU value exported under dcgm-exporter's name.
type field int

// The fields, in exposition order. Names, types and help strings follow
// dcgm-exporter's etc/default-counters.csv (the ECC rows are commented out
// there; they use its commented definitions).
const (
	fieldSMClock field = iota
	fieldMemClock
	fieldGPUTemp
	fieldPowerUsage
	fieldTotalEnergy
	fieldPCIeTx
	fieldPCIeRx
	fieldPCIeReplay
	fieldGPUUtil
	fieldMemCopyUtil
	fieldFBFree
	fieldFBUsed
	fieldECCSBEVol
	fieldECCDBEVol
	fieldECCSBEAgg
	fieldECCDBEAgg
	fieldUncorrectableRemappedRows
	fieldCorrectableRemappedRows
	fieldRowRemapFailure
	numFields
)

// fieldDef is one dcgm-exporter metric family.
type fieldDef struct {
	name string
	help string
	typ  prometheus.ValueType
}

// fieldDefs holds the family of every field, indexed by field.
var fieldDefs = [numFields]fieldDef{
	fieldSMClock:                   {"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", prometheus.GaugeValue},
	fieldMemClock:                  {"DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", prometheus.GaugeValue},
	fieldGPUTemp:                   {"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", prometheus.GaugeValue},
	fieldPowerUsage:                {"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", prometheus.GaugeValue},
	fieldTotalEnergy:               {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", prometheus.CounterValue},
	fieldPCIeTx:                    {"DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "Total number of bytes transmitted through PCIe TX (in KB) via NVML.", prometheus.CounterValue},
	fieldPCIeRx:                    {"DCGM_FI_DEV_PCIE_RX_THROUGHPUT", "Total number of bytes received through PCIe RX (in KB) via NVML.", prometheus.CounterValue},
	fieldPCIeReplay:                {"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "Total number of PCIe retries.", prometheus.CounterValue},
	fieldGPUUtil:                   {"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", prometheus.GaugeValue},
	fieldMemCopyUtil:               {"DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", prometheus.GaugeValue},
	fieldFBFree:                    {"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", prometheus.GaugeValue},
	fieldFBUsed:                    {"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", prometheus.GaugeValue},
	fieldECCSBEVol:                 {"DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "Total number of single-bit volatile ECC errors.", prometheus.CounterValue},
	fieldECCDBEVol:                 {"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "Total number of double-bit volatile ECC errors.", prometheus.CounterValue},
	fieldECCSBEAgg:                 {"DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "Total number of single-bit persistent ECC errors.", prometheus.CounterValue},
	fieldECCDBEAgg:                 {"DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "Total number of double-bit persistent ECC errors.", prometheus.CounterValue},
	fieldUncorrectableRemappedRows: {"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for uncorrectable errors", prometheus.CounterValue},
	fieldCorrectableRemappedRows:   {"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for correctable errors", prometheus.CounterValue},
	fieldRowRemapFailure:           {"DCGM_FI_DEV_ROW_REMAP_FAILURE", "Whether remapping of rows has failed", prometheus.GaugeValue},
}

// deviceLabels are dcgm-exporter's per-GPU labels, in its order; Hostname is
// a constant label of every dcgm family.
var deviceLabels = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName"}

// Names of torchgate's own families.
const (
	availableName     = "torchgate_gpu_telemetry_available"
	workerMemoryName  = "torchgate_gpu_worker_memory_bytes"
	processMemoryName = "torchgate_gpu_process_memory_bytes"
)

// descs holds every Desc the Collector exports except the worker-memory
// gauge, which its GaugeVec describes.
type descs struct {
	fields        [numFields]*prometheus.Desc
	available     *prometheus.Desc
	processMemory *prometheus.Desc
}

// newDescs builds the descriptors; hostname becomes the Hostname label of the
// dcgm families.
func newDescs(hostname string) descs {
	var d descs
	host := prometheus.Labels{"Hostname": hostname}
	for f, def := range fieldDefs {
		d.fields[f] = prometheus.NewDesc(def.name, def.help, deviceLabels, host)
	}
	d.available = prometheus.NewDesc(availableName,
		"1 when this scrape carries GPU series read from NVML, 0 when NVML is unavailable, failed or too slow.",
		nil, nil)
	d.processMemory = prometheus.NewDesc(processMemoryName,
		"GPU memory used by each compute process on the GPU, as NVML reports it (in bytes).",
		[]string{"gpu", "UUID", "pid"}, nil)
	return d
}

// describe sends every descriptor in d.
func (d *descs) describe(ch chan<- *prometheus.Desc) {
	for _, desc := range d.fields {
		ch <- desc
	}
	ch <- d.available
	ch <- d.processMemory
}
