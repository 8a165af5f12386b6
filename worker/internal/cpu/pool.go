package cpu

import (
	"sync"
	"sync/atomic"
)

// tasker is one parallel job: do runs task t on worker w (0 <= w < threads). Workers own
// per-worker scratch, so a task may use the scratch of its w without locking.
type tasker interface {
	do(w, t int)
}

// pool is a fixed set of worker goroutines that run the tasks of one job at a time. The
// calling goroutine takes part as worker 0, so a pool of n threads starts n-1 goroutines.
// Jobs are handed over through fields, not closures, so running one allocates nothing.
type pool struct {
	threads int
	wake    []chan struct{}
	wg      sync.WaitGroup
	job     tasker
	tasks   int
	next    atomic.Int64
	closed  bool
}

func newPool(threads int) *pool {
	p := &pool{threads: threads, wake: make([]chan struct{}, threads-1)}
	for i := range p.wake {
		p.wake[i] = make(chan struct{})
		go p.worker(i+1, p.wake[i])
	}
	return p
}

func (p *pool) worker(w int, wake chan struct{}) {
	for range wake {
		p.drain(w)
		p.wg.Done()
	}
}

func (p *pool) drain(w int) {
	for {
		t := int(p.next.Add(1) - 1)
		if t >= p.tasks {
			return
		}
		p.job.do(w, t)
	}
}

// run executes tasks 0..n-1 of job across the pool and returns when all are done. Calls must
// not overlap (the Engine's mutex serialises them).
func (p *pool) run(n int, job tasker) {
	helpers := min(p.threads, n) - 1
	if helpers <= 0 {
		for t := range n {
			job.do(0, t)
		}
		return
	}
	p.job, p.tasks = job, n
	p.next.Store(0)
	p.wg.Add(helpers)
	for i := range helpers {
		p.wake[i] <- struct{}{}
	}
	p.drain(0)
	p.wg.Wait()
	p.job = nil
}

// close stops the worker goroutines.
func (p *pool) close() {
	if p.closed {
		return
	}
	p.closed = true
	for _, c := range p.wake {
		close(c)
	}
}
