// Package telemetry exports the health of this host's NVIDIA GPUs to
// Prometheus under dcgm-exporter's metric names, units and labels, so NVIDIA's
// stock Grafana dashboard works on torchgate's /metrics.
//
// # Usage
//
// `worker serve` builds one Collector, registers it on the registry behind its
// /metrics handler, hands it to the CUDA backend for SetWorkerMemory, and
// closes it on shutdown:
//
//	gpu := telemetry.New(telemetry.Options{Logger: logger, Hostname: nodeName})
//	defer gpu.Close()
//	reg.MustRegister(gpu)
//
// New never waits for NVML and never fails: without a driver, without
// libnvidia-ml, or in a binary built with CGO_ENABLED=0, the Collector logs
// one line that says why and exports only torchgate_gpu_telemetry_available 0
// (and the worker's own memory, if set). Init is not retried: restart the
// worker after installing the driver.
//
// # Collection
//
// NVML is read on scrape, at most once per Options.Interval (1 s): scrapes in
// between reuse the last reading. The reading runs in its own goroutine and a
// scrape waits for it at most Options.Timeout (2 s); if NVML hangs, scrapes
// go on without GPU series and no second reading starts until the first one
// returns. Inference never waits for any of this: the only call from the
// serving path, SetWorkerMemory, sets a gauge.
//
// # Metrics
//
// dcgm-exporter families (names, types and help strings from its
// etc/default-counters.csv), one series per GPU, labelled gpu (NVML index),
// UUID, pci_bus_id, device ("nvidia" + index), modelName and Hostname, as
// dcgm-exporter labels them by default. A value the GPU does not support
// (ERROR_NOT_SUPPORTED) has no series.
//
//	DCGM_FI_DEV_SM_CLOCK                     gauge    MHz
//	DCGM_FI_DEV_MEM_CLOCK                    gauge    MHz
//	DCGM_FI_DEV_GPU_TEMP                     gauge    C
//	DCGM_FI_DEV_POWER_USAGE                  gauge    W
//	DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION     counter  mJ
//	DCGM_FI_DEV_PCIE_TX_THROUGHPUT           counter  KB (NVML's KB/s over 20 ms; dcgm-exporter types it counter)
//	DCGM_FI_DEV_PCIE_RX_THROUGHPUT           counter  KB (likewise)
//	DCGM_FI_DEV_PCIE_REPLAY_COUNTER          counter
//	DCGM_FI_DEV_GPU_UTIL                     gauge    %
//	DCGM_FI_DEV_MEM_COPY_UTIL                gauge    %
//	DCGM_FI_DEV_FB_FREE                      gauge    MiB
//	DCGM_FI_DEV_FB_USED                      gauge    MiB
//	DCGM_FI_DEV_ECC_SBE_VOL_TOTAL            counter
//	DCGM_FI_DEV_ECC_DBE_VOL_TOTAL            counter
//	DCGM_FI_DEV_ECC_SBE_AGG_TOTAL            counter
//	DCGM_FI_DEV_ECC_DBE_AGG_TOTAL            counter
//	DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS  counter
//	DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS    counter
//	DCGM_FI_DEV_ROW_REMAP_FAILURE            gauge    0/1
//
// torchgate's own families:
//
//	torchgate_gpu_telemetry_available{}              gauge  1 when this scrape carries NVML series
//	torchgate_gpu_worker_memory_bytes{gpu,UUID}      gauge  set by SetWorkerMemory
//	torchgate_gpu_process_memory_bytes{gpu,UUID,pid} gauge  NVML's compute processes
//
// # Builds
//
// go-nvml needs cgo. Files ending in _cgo.go hold the NVML reader; with
// CGO_ENABLED=0, library_nocgo.go stands in and reports ErrNoCgo, so the
// default worker builds and runs without a C toolchain.
package telemetry
