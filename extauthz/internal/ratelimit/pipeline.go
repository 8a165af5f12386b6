package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatches is the number of pipelines one limiter has on the wire at once
// (its lanes). With one, every call that arrives while a batch waits for its
// replies goes out in the next batch: fewer, larger pipelines. Measured end to
// end on two shared cores (BENCHMARKS.md), one lane gave about 6% more checks
// per second than two and cost Redis about 10% less CPU per call; a second
// lane would not isolate a slow Cluster node either, as both lanes soon carry
// calls for it.
const maxBatches = 1

// pipeliner gathers the script calls of concurrent Allow calls into
// pipelines: one write and one read for a batch instead of one of each per
// call, and one pooled connection per batch. Nothing waits for a batch to
// fill. A call that finds a lane free is sent at once, as a pipeline of one,
// by its own caller (no goroutine hand-off when there is no concurrency).
// Calls queued while all maxBatches lanes are on the wire go out together,
// as the next pipeline of the first lane back. Each call is still one
// command (EVALSHA, or EVAL when Redis lost the script) and each caller waits
// for its own reply under its own deadline.
//
// A lane whose batch leaves calls queued behind it continues in a worker
// goroutine, which returns once the queue is empty; so an idle or dropped
// limiter holds no goroutine and needs no Close.
type pipeliner struct {
	calls sync.Pool // of *call with its done channel

	mu sync.Mutex
	// queue and idle are guarded by mu. Calls are queued only while no lane
	// is idle, and a lane turns idle only when the queue is empty.
	queue []*call // waiting for a lane
	idle  []*lane // lanes not on the wire; maxBatches minus these are busy
}

// lane is one pipeline on the wire at a time, and the buffer of its batch.
type lane struct {
	pipe  redis.Pipeliner
	batch []*call
}

// call is one script call on its way through a pipeline. The caller owns it
// until it is queued; the worker then owns cmd until it signals done; a caller
// that gave up never touches it again.
type call struct {
	ctx      context.Context // the caller's; a call whose ctx ended is not sent
	deadline time.Time       // when the caller stops waiting; a call past it is not sent
	cmd      *redis.Cmd      // EVALSHA, replaced by EVAL on NOSCRIPT
	done     chan struct{}   // receives once cmd has its reply or error
	timer    *time.Timer     // fires at deadline, for the waiting caller
}

// live reports whether c's caller still waits for it.
func (c *call) live() bool { return c.ctx.Err() == nil && time.Now().Before(c.deadline) }

func newPipeliner(client redis.UniversalClient) *pipeliner {
	p := &pipeliner{calls: sync.Pool{New: func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return &call{done: make(chan struct{}, 1), timer: t}
	}}}
	for range maxBatches {
		p.idle = append(p.idle, &lane{pipe: client.Pipeline()})
	}
	return p
}

// do runs the script with args (see scriptCall) in the next pipeline and
// returns its reply, waiting at most timeout: it returns
// context.DeadlineExceeded when the reply is not in by then, and ctx's error
// when ctx ends first. The wait needs no context of its own (one per call
// cost about 5% of the server's CPU under load): a pooled timer bounds it,
// and the pipeline's I/O runs under one deadline per batch.
func (p *pipeliner) do(ctx context.Context, timeout time.Duration, args []any) ([]int64, error) {
	c := p.calls.Get().(*call)
	c.ctx, c.deadline, c.cmd = ctx, time.Now().Add(timeout), redis.NewCmd(ctx, args...)
	c.timer.Reset(timeout)
	if ln := p.enqueue(c); ln != nil {
		p.send(ln) // c's own pipeline: it is done when send returns
	}
	// Once the caller stops waiting, c's lane may still signal done: c is left
	// to the garbage collector.
	select {
	case <-c.done:
		c.timer.Stop()
		v, err := c.cmd.Int64Slice()
		c.ctx, c.cmd = nil, nil
		p.calls.Put(c)
		return v, err
	case <-c.timer.C:
		return nil, context.DeadlineExceeded
	case <-ctx.Done():
		c.timer.Stop()
		return nil, ctx.Err()
	}
}

// enqueue queues c. When a lane is idle it takes the queue (just c) as the
// lane's batch and returns the lane, for the caller to send.
func (p *pipeliner) enqueue(c *call) *lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, c)
	if len(p.idle) == 0 {
		return nil
	}
	ln := p.idle[len(p.idle)-1]
	p.idle = p.idle[:len(p.idle)-1]
	p.take(ln)
	return ln
}

// take moves the queued calls into ln's batch, giving the queue ln's spare
// buffer. p.mu must be held.
func (p *pipeliner) take(ln *lane) {
	clear(ln.batch) // the calls of the last batch belong to their callers again
	ln.batch, p.queue = p.queue, ln.batch[:0]
}

// send sends ln's batch. If calls were queued meanwhile it takes them and
// hands ln to a worker goroutine; else ln turns idle.
func (p *pipeliner) send(ln *lane) {
	if p.next(ln) {
		go p.work(ln)
	}
}

// work sends ln's batches while calls are queued.
func (p *pipeliner) work(ln *lane) {
	for p.next(ln) {
	}
}

// next sends ln's batch, then takes the calls queued meanwhile and reports
// whether there were any; if not, ln turns idle.
func (p *pipeliner) next(ln *lane) bool {
	p.exec(ln.pipe, ln.batch)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		clear(ln.batch)
		p.idle = append(p.idle, ln)
		return false
	}
	p.take(ln)
	return true
}

// exec sends batch as a pipeline and signals every call. Calls whose caller
// has given up are not sent. The pipeline's I/O runs until the latest
// deadline of its calls (each caller still stops waiting at its own). Calls
// answered NOSCRIPT (Redis restarted or flushed its scripts) are sent again
// as EVAL, which loads the script, in a second pipeline under the same
// deadline.
func (p *pipeliner) exec(pipe redis.Pipeliner, batch []*call) {
	live := batch[:0]
	var deadline time.Time
	for _, c := range batch {
		if !c.live() {
			c.cmd.SetErr(context.DeadlineExceeded)
			c.done <- struct{}{}
			continue
		}
		deadline = later(deadline, c.deadline)
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for _, c := range live {
		_ = pipe.Process(ctx, c.cmd)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error

	retry := live[:0]
	for _, c := range live {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") && c.live() {
			c.cmd = redis.NewCmd(c.ctx, evalArgs(c.cmd.Args())...)
			_ = pipe.Process(ctx, c.cmd)
			retry = append(retry, c)
			continue
		}
		c.done <- struct{}{}
	}
	if len(retry) == 0 {
		return
	}
	_, _ = pipe.Exec(ctx)
	for _, c := range retry {
		c.done <- struct{}{}
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
