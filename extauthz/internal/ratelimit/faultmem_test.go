package ratelimit

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// TestRedisFaultNoMemoryGrowth kills and restarts Redis several times under
// load: once service is back, the live heap is where it was before the
// faults. The bound (a tenth of an object per call made meanwhile) is far
// below what any per-call state left behind would cost (a call is several
// objects: its command, arguments, context), and far above GC noise.
func TestRedisFaultNoMemoryGrowth(t *testing.T) {
	srv := redistest.Start(t)
	l := NewRedis(redisClient(t, srv, DefaultTimeout), RedisOptions{Replicas: 3})
	tier := &Tier{Name: "pro", Rate: 1e5, Burst: 1e5, Quotas: []Quota{{Day, 1e9}}}
	var calls atomic.Int64
	// underLoad runs f while four goroutines call Allow, and waits for them.
	underLoad := func(f func()) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					if _, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: tier, Cost: 1}); err != nil {
						t.Error(err)
						return
					}
					calls.Add(1)
					time.Sleep(200 * time.Microsecond)
				}
			})
		}
		f()
		stop.Store(true)
		wg.Wait()
	}
	faults := func(n int) {
		for range n {
			srv.Kill()
			time.Sleep(300 * time.Millisecond)
			mustOK(t, srv.Restart())
			waitUntil(t, "service is back in redis", func() bool { return testutil.ToFloat64(l.redisM.degraded) == 0 })
			time.Sleep(100 * time.Millisecond)
		}
	}
	heap := func() (objects, bytes int64) {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapObjects), int64(m.HeapInuse)
	}

	underLoad(func() { faults(1) }) // connections, buffers and fallback state exist from here on
	objects0, bytes0 := heap()
	calls0 := calls.Load()
	underLoad(func() { faults(3) })
	objects1, bytes1 := heap()
	n := calls.Load() - calls0
	t.Logf("%d calls over 3 faults: heap objects %d → %d, in use %d → %d KiB", n, objects0, objects1, bytes0>>10, bytes1>>10)
	if n < 1000 {
		t.Fatalf("only %d calls during the faults", n)
	}
	if growth := objects1 - objects0; growth > n/10 {
		t.Errorf("heap grew by %d objects over %d calls", growth, n)
	}
}
