package ratelimit

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// pipelineHook records the size of every pipeline of script calls a client
// sends (not those of connection setup); until release is closed it holds
// each one before sending it. When flushAt > 0 it
// slips a SCRIPT FLUSH in front of command flushAt of the first pipeline of
// more commands, so the commands after it find the script gone.
type pipelineHook struct {
	release chan struct{}
	flushAt int

	mu      sync.Mutex
	sizes   []int // guarded by mu
	flushed bool  // guarded by mu
}

func newPipelineHook() *pipelineHook { return &pipelineHook{release: make(chan struct{})} }

func (h *pipelineHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if name := cmds[0].Name(); name != "evalsha" && name != "eval" {
			return next(ctx, cmds)
		}
		h.mu.Lock()
		h.sizes = append(h.sizes, len(cmds))
		if h.flushAt > 0 && len(cmds) > h.flushAt && !h.flushed {
			h.flushed = true
			flush := redis.NewStatusCmd(ctx, "script", "flush")
			cmds = append(cmds[:h.flushAt:h.flushAt], append([]redis.Cmder{flush}, cmds[h.flushAt:]...)...)
		}
		h.mu.Unlock()
		<-h.release
		return next(ctx, cmds)
	}
}

func (h *pipelineHook) pipelines() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitFor(t, what, 5*time.Second, cond)
}

// waitLong is waitUntil for what may take long on a loaded machine.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitFor(t, what, 60*time.Second, cond)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	start := time.Now()
	for deadline := start.Add(timeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Logf("waited %v until %s", took.Round(time.Millisecond), what)
	}
}

// state returns the number of queued calls and of lanes on the wire.
func (p *pipeliner) state() (queued, busy int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue), maxBatches - len(p.idle)
}

// testCall returns a call for exec that its caller waits 5 s for.
func testCall(ctx context.Context, args []any) *call {
	return &call{ctx: ctx, deadline: time.Now().Add(5 * time.Second), cmd: redis.NewCmd(ctx, args...), done: make(chan struct{}, 1)}
}

func newMiniredisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestPipelineSendsQueuedCallsTogether holds the first pipelines on the wire,
// one per lane: no more are in flight, the calls queued meanwhile leave
// together in the next, every caller gets its own decision, and no lane (nor
// worker goroutine) stays busy once nothing is queued.
func TestPipelineSendsQueuedCallsTogether(t *testing.T) {
	client := newMiniredisClient(t)
	l := NewRedis(client, RedisOptions{Timeout: 10 * time.Second})
	if _, err := l.Allow(context.Background(), Request{ClientID: "warm", Tier: proTier, Cost: 1}); err != nil {
		t.Fatal(err) // loads the script, so every call below is one EVALSHA
	}
	hook := newPipelineHook()
	client.AddHook(hook)

	var wg sync.WaitGroup
	allow := func(client string, cost int64) {
		wg.Go(func() {
			res, err := l.Allow(context.Background(), Request{ClientID: client, Tier: proTier, Cost: cost})
			if err != nil || res.Degraded || !res.Allowed || res.Policies[0].Remaining != proTier.Burst-cost {
				t.Errorf("%s: %+v, %v", client, res, err)
			}
		})
	}
	for i := range maxBatches {
		allow("lane-"+strconv.Itoa(i), 1)
		waitUntil(t, "a pipeline is on the wire", func() bool { return len(hook.pipelines()) == i+1 })
	}
	const queued = 10
	for i := range queued {
		allow("queued-"+strconv.Itoa(i), int64(1+i))
	}
	waitUntil(t, "all calls are queued", func() bool { q, _ := l.pipe.state(); return q == queued })
	if got := hook.pipelines(); len(got) != maxBatches {
		t.Fatalf("pipelines %v while every lane is on the wire, want no more", got)
	}
	close(hook.release)
	wg.Wait()
	want := append(slices.Repeat([]int{1}, maxBatches), queued)
	if got := hook.pipelines(); !slices.Equal(got, want) {
		t.Errorf("pipeline sizes %v, want %v", got, want)
	}
	waitUntil(t, "all lanes are idle", func() bool { _, busy := l.pipe.state(); return busy == 0 })
}

// TestPipelineCallerKeepsItsDeadline: a call queued behind stalled pipelines
// (one per lane) gives up at its own deadline, and is not sent after that.
func TestPipelineCallerKeepsItsDeadline(t *testing.T) {
	client := newMiniredisClient(t)
	const timeout = 50 * time.Millisecond
	l := NewRedis(client, RedisOptions{Timeout: timeout, OnError: OnErrorDeny})
	if _, err := l.Allow(context.Background(), Request{ClientID: "warm", Tier: proTier, Cost: 1}); err != nil {
		t.Fatal(err)
	}
	hook := newPipelineHook()
	client.AddHook(hook)
	var wg sync.WaitGroup
	for i := range maxBatches {
		wg.Go(func() { _, _ = l.Allow(context.Background(), Request{ClientID: "stalled", Tier: proTier, Cost: 1}) })
		waitUntil(t, "a stalled pipeline", func() bool { return len(hook.pipelines()) == i+1 })
	}
	start := time.Now()
	_, err := l.Allow(context.Background(), Request{ClientID: "queued", Tier: proTier, Cost: 1})
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("queued call: err = %v, want ErrUnavailable", err)
	}
	// Scheduling slack for a loaded 2-core machine; the point is that it
	// does not wait for the stalled pipelines (released only below).
	if took < timeout || took > timeout+250*time.Millisecond {
		t.Errorf("queued call returned after %v, want its timeout %v", took, timeout)
	}
	close(hook.release)
	wg.Wait()
	waitUntil(t, "all lanes are idle", func() bool { _, busy := l.pipe.state(); return busy == 0 })
	if got := hook.pipelines(); len(got) != maxBatches {
		t.Errorf("pipelines %v: a call whose caller gave up was sent", got)
	}
}

// TestPipelineNoScriptRerunsOnlyTheAffectedCalls loses the script in the
// middle of a pipeline (a SCRIPT FLUSH slipped in after two calls): the two
// calls before it are answered, the two after it get NOSCRIPT and are sent
// again as EVAL, and each request spends its cost exactly once.
func TestPipelineNoScriptRerunsOnlyTheAffectedCalls(t *testing.T) {
	srv := redistest.Start(t)
	admin := redisClient(t, srv, time.Second)
	client := redisClient(t, srv, time.Second)
	l := NewRedis(client, RedisOptions{Timeout: 5 * time.Second})
	tier := &Tier{Name: "pro", Rate: 200, Burst: 400, Quotas: []Quota{{Day, 1000}}}
	if _, err := l.Allow(context.Background(), Request{ClientID: "warm", Tier: tier, Cost: 1}); err != nil {
		t.Fatal(err)
	}
	hook := newPipelineHook()
	hook.flushAt = 2
	close(hook.release)
	client.AddHook(hook)
	mustOK(t, admin.ConfigResetStat(context.Background()).Err())

	ctx := context.Background()
	var batch []*call
	for i := range 4 {
		r := Request{ClientID: "c" + strconv.Itoa(i), Tier: tier, Cost: 1}
		batch = append(batch, testCall(ctx, scriptCall(l.prefix, r)))
	}
	l.pipe.exec(client.Pipeline(), slices.Clone(batch)) // exec reorders its slice
	for i, c := range batch {
		select {
		case <-c.done:
		default:
			t.Fatalf("call %d not signalled", i)
		}
		v, err := c.cmd.Int64Slice()
		if err != nil || len(v) != 4 || v[0] != 1 || v[3] != 0 {
			t.Errorf("call %d: reply %v, %v; want allowed with nothing used before", i, v, err)
		}
	}
	stats := commandStats(t, admin)
	if stats["evalsha"] != 4 || stats["eval"] != 2 || stats["script|flush"] != 1 {
		t.Errorf("commands %v, want 4 evalsha (2 answered NOSCRIPT), 2 eval, 1 script flush", stats)
	}
	if got := hook.pipelines(); len(got) != 2 || got[0] != 4 || got[1] != 2 {
		t.Errorf("pipeline sizes %v, want [4 2]", got)
	}
	for i := range 4 {
		res, err := l.Allow(context.Background(), Request{ClientID: "c" + strconv.Itoa(i), Tier: tier, Cost: 1})
		if err != nil || res.Policies[1].Remaining != 1000-2 {
			t.Errorf("client c%d after its second request: %+v, %v; want 2 spent", i, res, err)
		}
	}
}
