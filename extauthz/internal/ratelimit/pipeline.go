package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatches is the number of pipelines one limiter has on the wire at once
// (its lanes): while one batch waits for its replies, the next forms and goes
// out without waiting for it, so one slow reply (or, in a Cluster, one slow
// node) does not hold every call. One and two measured alike on loopback.
const maxBatches = 2

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
	ctx  context.Context // the caller's, with a deadline; a call whose ctx ended is not sent
	cmd  *redis.Cmd      // EVALSHA, replaced by EVAL on NOSCRIPT
	done chan struct{}   // receives once cmd has its reply or error
}

func newPipeliner(client redis.UniversalClient) *pipeliner {
	p := &pipeliner{calls: sync.Pool{New: func() any {
		return &call{done: make(chan struct{}, 1)}
	}}}
	for range maxBatches {
		p.idle = append(p.idle, &lane{pipe: client.Pipeline()})
	}
	return p
}

// do runs the script with args (see scriptCall) in the next pipeline and
// returns its reply. ctx must carry a deadline: it bounds both the wait here
// and the pipeline's I/O. do returns ctx's error when ctx ends first.
func (p *pipeliner) do(ctx context.Context, args []any) ([]int64, error) {
	c := p.calls.Get().(*call)
	c.ctx, c.cmd = ctx, redis.NewCmd(ctx, args...)
	if ln := p.enqueue(c); ln != nil {
		p.send(ln) // c's own pipeline: it is done when send returns
	}
	select {
	case <-c.done:
		v, err := c.cmd.Int64Slice()
		c.ctx, c.cmd = nil, nil
		p.calls.Put(c)
		return v, err
	case <-ctx.Done():
		// c's lane may still signal done: c is left to the garbage collector.
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
// has given up are not sent. Calls answered NOSCRIPT (Redis restarted or
// flushed its scripts) are sent again as EVAL, which loads the script, in a
// second pipeline under the same deadline.
func (p *pipeliner) exec(pipe redis.Pipeliner, batch []*call) {
	live := batch[:0]
	var deadline time.Time
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.cmd.SetErr(err)
			c.done <- struct{}{}
			continue
		}
		if d, _ := c.ctx.Deadline(); d.After(deadline) {
			deadline = d
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	// A batch of one runs under its caller's context, as a plain call would;
	// a larger one until the latest deadline (each caller still stops
	// waiting at its own), and a caller that gives up does not cut it short.
	ctx := live[0].ctx
	if len(live) > 1 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(context.Background(), deadline)
		defer cancel()
	}
	for _, c := range live {
		_ = pipe.Process(ctx, c.cmd)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error

	retry := live[:0]
	for _, c := range live {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") && c.ctx.Err() == nil {
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
