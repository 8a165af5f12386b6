package telemetry

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// sampler reads the GPUs. The Collector calls it from one goroutine at a
// time, init first, sample only after init succeeded, shutdown last.
type sampler interface {
	// init initialises the library; no other method runs if it fails.
	init() error
	// sample reads every GPU. A non-nil error with a nil slice means nothing
	// could be read; with a slice, the error lists what was left out.
	sample() ([]deviceSample, error)
	// shutdown releases the library.
	shutdown() error
}

// deviceSample is one GPU's identity and readings from one sample.
type deviceSample struct {
	index int
	uuid  string
	model string
	busID string

	values  [numFields]float64
	present [numFields]bool

	processes []processMemory
}

// processMemory is one compute process's GPU memory.
type processMemory struct {
	pid   uint32
	bytes uint64
}

// collect sends d's series; descriptors come from ds.
func (d *deviceSample) collect(ds *descs, ch chan<- prometheus.Metric) {
	gpu := strconv.Itoa(d.index)
	labels := []string{gpu, d.uuid, d.busID, "nvidia" + gpu, d.model}
	for f, def := range fieldDefs {
		if d.present[f] {
			ch <- constMetric(ds.fields[f], def.typ, d.values[f], labels...)
		}
	}
	for _, p := range d.processes {
		ch <- constMetric(ds.processMemory, prometheus.GaugeValue, float64(p.bytes),
			gpu, d.uuid, strconv.FormatUint(uint64(p.pid), 10))
	}
}

// constMetric is prometheus.MustNewConstMetric without the panic: a bad
// metric fails the scrape of that one series instead of the process.
func constMetric(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, typ, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}
