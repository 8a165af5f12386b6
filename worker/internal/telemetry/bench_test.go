//go:build cgo

package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchmarkScrape gathers a registry holding a Collector over two mock GPUs;
// advance is how far the clock moves between scrapes.
func benchmarkScrape(b *testing.B, advance time.Duration) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := New(Options{Logger: (&logBuffer{}).logger(), Now: clock.now, NVML: library(h200, a100)})
	defer c.Close()
	c.SetWorkerMemory(0, h200.uuid, 1<<30)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	for b.Loop() {
		clock.advance(advance)
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScrapeCached is a scrape served from the cache.
func BenchmarkScrapeCached(b *testing.B) { benchmarkScrape(b, 0) }

// BenchmarkScrapeRefresh is a scrape that reads (mock) NVML again.
func BenchmarkScrapeRefresh(b *testing.B) { benchmarkScrape(b, time.Hour) }
