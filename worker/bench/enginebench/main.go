//go:build linux

// Command enginebench is the Go side of worker/bench/run.sh: it loads one TorchScript
// archive with the CPU engine and either times warm Runs or reports the process's peak
// resident memory after loading and after the first Run.
//
// Usage:
//
//	enginebench -archive M.pt -shape 3,224,224 -batch 8 -threads 1 [-seconds 1]
//	enginebench -rss -archive M.pt -shape 3,224,224 [-batch 1]
//
// The timing mode prints one line, "items/s cpu_us/item": the throughput of a loop of warm
// Runs lasting at least -seconds after two warm-up Runs, and the process CPU time (user +
// system) per batch element over the same loop. The -rss mode prints "param_bytes
// hwm_load hwm_run": the bytes of every tensor the archive stores and VmHWM (from
// /proc/self/status) after Load and after one Run. Inputs are all ones. Linux only.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

func main() {
	archive := flag.String("archive", "", "TorchScript archive")
	shape := flag.String("shape", "", "input shape without the batch dimension, comma-separated")
	batch := flag.Int("batch", 1, "batch size")
	threads := flag.Int("threads", 1, "engine threads")
	seconds := flag.Float64("seconds", 1, "minimum length of the timed loop")
	rss := flag.Bool("rss", false, "report peak RSS after Load and after one Run instead of timing")
	flag.Parse()
	if err := run(*archive, *shape, *batch, *threads, *seconds, *rss); err != nil {
		fmt.Fprintln(os.Stderr, "enginebench:", err)
		os.Exit(1)
	}
}

func run(archive, shape string, batch, threads int, seconds float64, rss bool) error {
	dims := []int{batch}
	for _, s := range strings.Split(shape, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || d <= 0 {
			return fmt.Errorf("bad -shape %q", shape)
		}
		dims = append(dims, d)
	}
	m, err := engine.Load(archive, engine.Options{Threads: threads})
	if err != nil {
		return err
	}
	defer m.Close()
	hwmLoad, err := peakRSS()
	if err != nil {
		return err
	}
	n := 1
	for _, d := range dims {
		n *= d
	}
	in := []engine.Tensor{{Shape: dims, Float32: make([]float32, n)}}
	for i := range in[0].Float32 {
		in[0].Float32[i] = 1
	}
	if rss {
		if _, err := m.Run(context.Background(), in); err != nil {
			return err
		}
		hwmRun, err := peakRSS()
		if err != nil {
			return err
		}
		fmt.Println(m.Stats().ParamBytes, hwmLoad, hwmRun)
		return nil
	}
	for range 2 {
		if _, err := m.Run(context.Background(), in); err != nil {
			return err
		}
	}
	cpu0, start, runs := cpuTime(), time.Now(), 0
	for runs == 0 || time.Since(start).Seconds() < seconds {
		if _, err := m.Run(context.Background(), in); err != nil {
			return err
		}
		runs++
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	items := float64(runs * batch)
	fmt.Printf("%.2f %.2f\n", items/wall.Seconds(), cpu.Seconds()*1e6/items)
	return nil
}

// cpuTime returns the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns VmHWM from /proc/self/status in bytes.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
