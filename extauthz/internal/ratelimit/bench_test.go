package ratelimit

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// benchTier allows everything the benchmarks offer, so every call takes the
// full path: check and consume all limits.
var benchTier = &Tier{Name: "pro", Rate: 1e6, Burst: 1 << 40, Quotas: []Quota{{Minute, 1 << 50}, {Day, 1 << 50}}}

// benchAllow measures Allow for 1000 clients, from one goroutine and from 16
// (the concurrency of the end-to-end target). Besides ns/op, which the other
// processes of a shared machine disturb, it reports the CPU time per call of
// this process and, when redisPID is not 0, of the Redis server: the costs
// that decide throughput when all share the cores.
func benchAllow(b *testing.B, l Limiter, redisPID int) {
	b.Helper()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
	}
	allow := func(i int) error {
		res, err := l.Allow(context.Background(), Request{ClientID: ids[i%len(ids)], Tier: benchTier, Cost: 1})
		if err == nil && (!res.Allowed || res.Degraded) {
			b.Fatalf("benchmark request not allowed in full: %+v", res)
		}
		return err
	}
	b.Run("serial", func(b *testing.B) {
		defer reportCPU(b, redisPID)()
		i := 0
		for b.Loop() {
			if err := allow(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		defer reportCPU(b, redisPID)()
		var next atomic.Int64
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 97
			for pb.Next() {
				if err := allow(i); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkLocalAllow(b *testing.B) {
	benchAllow(b, NewLocal(LocalOptions{}), 0)
}

func BenchmarkRedisAllow(b *testing.B) {
	srv := redistest.Start(b)
	benchAllow(b, NewRedis(redisClient(b, srv, time.Second), RedisOptions{Timeout: time.Second}), srv.PID())
}

// reportCPU starts measuring CPU time; the returned function reports it per
// benchmark iteration as cpu-ns/op (this process) and redis-cpu-ns/op (the
// process redisPID, unless 0).
func reportCPU(b *testing.B, redisPID int) func() {
	b.Helper()
	self0, redis0 := cpuTime(b, os.Getpid()), cpuTime(b, redisPID)
	return func() {
		self, redis := cpuTime(b, os.Getpid())-self0, cpuTime(b, redisPID)-redis0
		b.ReportMetric(float64(self.Nanoseconds())/float64(b.N), "cpu-ns/op")
		if redisPID != 0 {
			b.ReportMetric(float64(redis.Nanoseconds())/float64(b.N), "redis-cpu-ns/op")
		}
	}
}

// cpuTime returns the user and system CPU time process pid has used (0 for
// pid 0), from /proc (Linux; in clock ticks of 10 ms).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	// The fields after the command name, which ends with the last ')':
	// state is field 3, utime 14 and stime 15.
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
