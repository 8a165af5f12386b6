package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// fakeModel doubles its float input (or adds 1 to int64 input) and records every run. When
// gate is set, each run waits for a value from it first.
type fakeModel struct {
	gate    chan struct{}
	started chan []engine.Tensor // optional: receives each run's inputs as it starts
	panics  bool
	reduce  bool // output one row whatever the batch

	mu   sync.Mutex
	runs [][]engine.Tensor
}

func (f *fakeModel) Run(ctx context.Context, in []engine.Tensor) ([]engine.Tensor, error) {
	f.mu.Lock()
	f.runs = append(f.runs, in)
	f.mu.Unlock()
	if f.started != nil {
		f.started <- in
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.panics {
		panic("boom")
	}
	if f.reduce {
		return []engine.Tensor{{Shape: []int{1}, Float32: []float32{1}}}, nil
	}
	out := make([]engine.Tensor, len(in))
	for i, t := range in {
		o := engine.Tensor{Shape: slices.Clone(t.Shape)}
		for _, v := range t.Float32 {
			o.Float32 = append(o.Float32, 2*v)
		}
		for _, v := range t.Int64 {
			o.Int64 = append(o.Int64, v+1)
		}
		out[i] = o
	}
	return out, nil
}

func (f *fakeModel) runCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.runs)
}

// batchSizes returns the first dimension of each run's first input.
func (f *fakeModel) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []int
	for _, r := range f.runs {
		s = append(s, r[0].Shape[0])
	}
	return s
}

// rows returns a [n, 2] float tensor whose values start at v.
func rows(n int, v float32) engine.Tensor {
	t := engine.Tensor{Shape: []int{n, 2}}
	for i := range 2 * n {
		t.Float32 = append(t.Float32, v+float32(i))
	}
	return t
}

// waitLen waits until b holds n queued requests.
func waitLen(t *testing.T, b *Batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue length %d, want %d", b.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// closeBatcher closes b at the end of a test.
func closeBatcher(t *testing.T, b *Batcher) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// submitAsync submits in the background and returns the channel of its result.
func submitAsync(ctx context.Context, b *Batcher, in []engine.Tensor, prio int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		out, err := b.Submit(ctx, in, prio)
		ch <- result{outputs: out, err: err}
	}()
	return ch
}

func TestSubmitMergesAndSplits(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
	b := New(Config{MaxBatchSize: 8}, []Model{m})
	closeBatcher(t, b)
	blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 100)}, 0)
	<-m.started
	var results []<-chan result
	sizes := []int{1, 1, 2}
	for i, n := range sizes {
		results = append(results, submitAsync(t.Context(), b, []engine.Tensor{rows(n, float32(10*i))}, 0))
		waitLen(t, b, i+1)
	}
	close(m.gate)
	if r := <-blocker; r.err != nil {
		t.Fatal(r.err)
	}
	for i, ch := range results {
		r := <-ch
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
		want := rows(sizes[i], float32(10*i))
		for j := range want.Float32 {
			want.Float32[j] *= 2
		}
		if got := r.outputs[0]; !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Float32, want.Float32) {
			t.Errorf("request %d: got %v %v, want %v %v", i, got.Shape, got.Float32, want.Shape, want.Float32)
		}
		if cap(r.outputs[0].Float32) != len(want.Float32) {
			t.Errorf("request %d: output capacity %d reaches past its rows", i, cap(r.outputs[0].Float32))
		}
	}
	if got, want := m.batchSizes(), []int{1, 4}; !slices.Equal(got, want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
}

func TestIncompatibleRequestsRunApart(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
	b := New(Config{MaxBatchSize: 8}, []Model{m})
	closeBatcher(t, b)
	blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	<-m.started
	wide := engine.Tensor{Shape: []int{1, 3}, Float32: []float32{1, 2, 3}}
	ints := engine.Tensor{Shape: []int{1, 2}, Int64: []int64{1, 2}}
	var chs []<-chan result
	for i, in := range []engine.Tensor{rows(1, 0), wide, ints, rows(1, 5)} {
		chs = append(chs, submitAsync(t.Context(), b, []engine.Tensor{in}, 0))
		waitLen(t, b, i+1)
	}
	close(m.gate)
	<-blocker
	for _, ch := range chs {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	if got, want := m.batchSizes(), []int{1, 2, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
}

func TestPriorityOrder(t *testing.T) {
	tests := []struct {
		name  string
		prios []int // submitted in this order while the runner is busy
		want  []int // order of execution, as indexes into prios
	}{
		{name: "higher first", prios: []int{0, 5, 2}, want: []int{1, 2, 0}},
		{name: "equal priority is FIFO", prios: []int{1, 1, 1}, want: []int{0, 1, 2}},
		{name: "negative last", prios: []int{-3, 0, 3}, want: []int{2, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
			b := New(Config{MaxBatchSize: 1}, []Model{m})
			closeBatcher(t, b)
			blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, -1)}, 0)
			<-m.started
			var chs []<-chan result
			for i, p := range tc.prios {
				chs = append(chs, submitAsync(t.Context(), b, []engine.Tensor{rows(1, float32(i))}, p))
				waitLen(t, b, i+1)
			}
			close(m.gate)
			<-blocker
			var order []int
			for range tc.prios {
				order = append(order, int((<-m.started)[0].Float32[0]))
			}
			for _, ch := range chs {
				if r := <-ch; r.err != nil {
					t.Fatal(r.err)
				}
			}
			if !slices.Equal(order, tc.want) {
				t.Errorf("order %v, want %v", order, tc.want)
			}
		})
	}
}

func TestAgingBeatsPriority(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
	b := New(Config{MaxBatchSize: 1, AgingStep: time.Second, Now: clock}, []Model{m})
	closeBatcher(t, b)
	blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, -1)}, 0)
	<-m.started
	old := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	waitLen(t, b, 1)
	advance(10 * time.Second) // the old request has aged 10 levels
	high := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 1)}, 9)
	waitLen(t, b, 2)
	close(m.gate)
	<-blocker
	first := (<-m.started)[0].Float32[0]
	<-m.started
	<-old
	<-high
	if first != 0 {
		t.Errorf("the priority-9 request ran before the priority-0 one that waited 10 aging steps")
	}
}

func TestQueueFull(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
	b := New(Config{MaxBatchSize: 1, MaxQueueSize: 2}, []Model{m})
	closeBatcher(t, b)
	defer close(m.gate)
	submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	<-m.started
	submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	waitLen(t, b, 2)
	if _, err := b.Submit(t.Context(), []engine.Tensor{rows(1, 0)}, 0); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Submit on a full queue: %v, want ErrQueueFull", err)
	}
}

func TestCancelledRequestsUseNoCompute(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{name: "client went away", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, want: context.Canceled},
		{name: "deadline passed", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, want: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
			b := New(Config{MaxBatchSize: 4}, []Model{m})
			closeBatcher(t, b)
			blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
			<-m.started
			ctx, cancel := tc.ctx()
			defer cancel()
			ch := submitAsync(ctx, b, []engine.Tensor{rows(1, 0)}, 0)
			waitLen(t, b, 1)
			if tc.want == context.Canceled {
				cancel()
			}
			if r := <-ch; !errors.Is(r.err, tc.want) {
				t.Errorf("Submit: %v, want %v", r.err, tc.want)
			}
			close(m.gate)
			<-blocker
			waitLen(t, b, 0)
			if n := m.runCount(); n != 1 {
				t.Errorf("%d runs, want only the blocker's", n)
			}
		})
	}
}

func TestCloseFinishesQueuedWork(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 16)}
	b := New(Config{MaxBatchSize: 2, MaxQueueDelay: time.Hour}, []Model{m})
	var chs []<-chan result
	for i := range 2 {
		chs = append(chs, submitAsync(t.Context(), b, []engine.Tensor{rows(1, float32(i))}, 0))
	}
	<-m.started
	for i := range 3 {
		chs = append(chs, submitAsync(t.Context(), b, []engine.Tensor{rows(1, float32(i))}, 0))
		waitLen(t, b, i+1)
	}
	closed := make(chan error, 1)
	go func() { closed <- b.Close(context.Background()) }()
	for !b.isClosing() {
		time.Sleep(time.Millisecond)
	}
	if _, err := b.Submit(t.Context(), []engine.Tensor{rows(1, 0)}, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit while closing: %v, want ErrClosed", err)
	}
	close(m.gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, ch := range chs {
		if r := <-ch; r.err != nil {
			t.Errorf("request %d: %v", i, r.err)
		}
	}
	if got := m.batchSizes(); len(got) < 3 || !slices.Equal(got[:3], []int{2, 2, 1}) {
		t.Errorf("batch sizes %v, want the queue flushed as 2, 2, 1 despite the hour of delay", got)
	}
}

func TestCloseTimeoutFailsQueuedWork(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
	b := New(Config{MaxBatchSize: 1}, []Model{m})
	running := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	<-m.started
	queued := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	waitLen(t, b, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v, want DeadlineExceeded", err)
	}
	if r := <-queued; !errors.Is(r.err, ErrClosed) {
		t.Errorf("queued request: %v, want ErrClosed", r.err)
	}
	if r := <-running; r.err == nil {
		t.Errorf("the run cut short by Close succeeded")
	}
}

func TestSubmitErrors(t *testing.T) {
	tests := []struct {
		name  string
		model *fakeModel
		cfg   Config
		in    []engine.Tensor
		want  error
	}{
		{name: "batch larger than max", model: &fakeModel{}, cfg: Config{MaxBatchSize: 2}, in: []engine.Tensor{rows(3, 0)}, want: ErrBatchTooLarge},
		{name: "model panics", model: &fakeModel{panics: true}, cfg: Config{MaxBatchSize: 2}, in: []engine.Tensor{rows(1, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.cfg, []Model{tc.model})
			closeBatcher(t, b)
			_, err := b.Submit(t.Context(), tc.in, 0)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Submit: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOutputWithoutBatchAxis(t *testing.T) {
	m := &fakeModel{reduce: true, gate: make(chan struct{}), started: make(chan []engine.Tensor, 8)}
	b := New(Config{MaxBatchSize: 4}, []Model{m})
	closeBatcher(t, b)
	blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	<-m.started
	a := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	waitLen(t, b, 1)
	c := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
	waitLen(t, b, 2)
	close(m.gate)
	if r := <-blocker; r.err != nil {
		t.Errorf("a batch of one passes outputs through: %v", r.err)
	}
	for _, ch := range []<-chan result{a, c} {
		if r := <-ch; !errors.Is(r.err, ErrOutput) {
			t.Errorf("merged request: %v, want ErrOutput", r.err)
		}
	}
}

func TestQueueDelay(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		requests  int
		wantSizes []int
	}{
		{name: "waits to fill max", cfg: Config{MaxBatchSize: 3, MaxQueueDelay: time.Hour}, requests: 3, wantSizes: []int{3}},
		{name: "preferred size runs early", cfg: Config{MaxBatchSize: 8, PreferredBatchSizes: []int{2}, MaxQueueDelay: time.Hour}, requests: 2, wantSizes: []int{2}},
		{name: "delay expires", cfg: Config{MaxBatchSize: 8, MaxQueueDelay: 20 * time.Millisecond}, requests: 1, wantSizes: []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeModel{}
			b := New(tc.cfg, []Model{m})
			closeBatcher(t, b)
			var chs []<-chan result
			for i := range tc.requests {
				chs = append(chs, submitAsync(t.Context(), b, []engine.Tensor{rows(1, float32(i))}, 0))
			}
			for _, ch := range chs {
				if r := <-ch; r.err != nil {
					t.Fatal(r.err)
				}
			}
			if got := m.batchSizes(); !slices.Equal(got, tc.wantSizes) {
				t.Errorf("batch sizes %v, want %v", got, tc.wantSizes)
			}
		})
	}
}

func TestBatchSizesTrimmed(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		queued    int
		wantSizes []int // after the blocker's run of 1
	}{
		{name: "powers of two by default", cfg: Config{MaxBatchSize: 8}, queued: 7, wantSizes: []int{4, 2, 1}},
		{name: "max batch size", cfg: Config{MaxBatchSize: 6}, queued: 7, wantSizes: []int{6, 1}},
		{name: "preferred sizes", cfg: Config{MaxBatchSize: 8, PreferredBatchSizes: []int{3}}, queued: 7, wantSizes: []int{3, 3, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeModel{gate: make(chan struct{}), started: make(chan []engine.Tensor, 16)}
			b := New(tc.cfg, []Model{m})
			closeBatcher(t, b)
			blocker := submitAsync(t.Context(), b, []engine.Tensor{rows(1, 0)}, 0)
			<-m.started
			var chs []<-chan result
			for i := range tc.queued {
				chs = append(chs, submitAsync(t.Context(), b, []engine.Tensor{rows(1, float32(i))}, 0))
				waitLen(t, b, i+1)
			}
			close(m.gate)
			<-blocker
			for _, ch := range chs {
				if r := <-ch; r.err != nil {
					t.Fatal(r.err)
				}
			}
			if got := m.batchSizes()[1:]; !slices.Equal(got, tc.wantSizes) {
				t.Errorf("batch sizes %v, want %v", got, tc.wantSizes)
			}
		})
	}
}

// countingObserver records measurements.
type countingObserver struct {
	mu                   sync.Mutex
	depths, waits, execs int
	items                int
}

func (o *countingObserver) QueueDepth(int) { o.mu.Lock(); o.depths++; o.mu.Unlock() }
func (o *countingObserver) Dequeued(time.Duration) {
	o.mu.Lock()
	o.waits++
	o.mu.Unlock()
}
func (o *countingObserver) Executed(n int, _ time.Duration) {
	o.mu.Lock()
	o.execs++
	o.items += n
	o.mu.Unlock()
}

func TestObserver(t *testing.T) {
	o := &countingObserver{}
	b := New(Config{MaxBatchSize: 4, Observer: o}, []Model{&fakeModel{}})
	for range 3 {
		if _, err := b.Submit(t.Context(), []engine.Tensor{rows(2, 0)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waits != 3 || o.execs != 3 || o.items != 6 || o.depths < 6 {
		t.Errorf("observed waits %d execs %d items %d depths %d, want 3 3 6 >=6", o.waits, o.execs, o.items, o.depths)
	}
}

// isClosing reports whether Close has begun.
func (b *Batcher) isClosing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closing
}
