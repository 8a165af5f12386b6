package cuda

import (
	"errors"
	"testing"
)

// fakeAlloc hands out increasing addresses and can be told to fail.
type fakeAlloc struct {
	next   uintptr
	live   map[uintptr]int64
	failAt int64 // fail allocations that would take live bytes beyond this (0: never)
}

var errFakeOOM = errors.New("fake: out of memory")

func (f *fakeAlloc) Alloc(n int64) (uintptr, error) {
	if f.live == nil {
		f.live = map[uintptr]int64{}
	}
	var total int64
	for _, s := range f.live {
		total += s
	}
	if f.failAt > 0 && total+n > f.failAt {
		return 0, errFakeOOM
	}
	f.next += 1 << 20
	f.live[f.next] = n
	return f.next, nil
}

func (f *fakeAlloc) Free(p uintptr) error {
	if _, ok := f.live[p]; !ok {
		return errors.New("fake: double free")
	}
	delete(f.live, p)
	return nil
}

// classSizeTests are TestClassSize's table and FuzzClassSize's seeds.
var classSizeTests = []struct {
	name string
	n    int64
	want int64
}{
	{name: "zero gets the minimum", n: 0, want: 256},
	{name: "below the minimum", n: 100, want: 256},
	{name: "the minimum", n: 256, want: 256},
	{name: "a quarter step up", n: 257, want: 320},
	{name: "power of two stays", n: 1 << 20, want: 1 << 20},
	{name: "just above a power of two", n: 1<<20 + 1, want: 1<<20 + 1<<18},
	{name: "seven eighths", n: 7 << 17, want: 7 << 17},
}

func TestClassSize(t *testing.T) {
	for _, tc := range classSizeTests {
		t.Run(tc.name, func(t *testing.T) {
			got := classSize(tc.n)
			if got != tc.want {
				t.Errorf("classSize(%d) = %d, want %d", tc.n, got, tc.want)
			}
			if got < tc.n || (tc.n > 256 && float64(got) > 1.25*float64(tc.n)) {
				t.Errorf("classSize(%d) = %d wastes more than a quarter", tc.n, got)
			}
		})
	}
}

// FuzzClassSize checks the size classes' invariants: a class holds the request, wastes at
// most a quarter, and is its own class (so cached blocks are found again).
func FuzzClassSize(f *testing.F) {
	for _, tc := range classSizeTests {
		f.Add(tc.n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		if n < 0 || n > 1<<50 {
			return
		}
		c := classSize(n)
		if c < n || c < minClass || (n > minClass && float64(c) > 1.25*float64(n)) {
			t.Fatalf("classSize(%d) = %d", n, c)
		}
		if classSize(c) != c {
			t.Fatalf("classSize(classSize(%d) = %d) = %d", n, c, classSize(c))
		}
	})
}

func TestPoolReuse(t *testing.T) {
	f := &fakeAlloc{}
	p := NewPool(f, 0)
	a, err := p.Get(1000)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(a)
	b, err := p.Get(1000)
	if err != nil {
		t.Fatal(err)
	}
	if b != a {
		t.Errorf("second Get = %+v, want the cached %+v", b, a)
	}
	c, err := p.Get(1000) // a is in use: a new block
	if err != nil {
		t.Fatal(err)
	}
	if c.Ptr == b.Ptr {
		t.Error("two live blocks share an address")
	}
	if got, want := p.Stats(), (PoolStats{Held: 2 * 1024, InUse: 2 * 1024, Allocs: 2, Reuses: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	p.Put(b)
	p.Put(c)
	p.Put(Block{})
	if err := p.Trim(); err != nil {
		t.Fatal(err)
	}
	if len(f.live) != 0 || p.Stats().Held != 0 {
		t.Errorf("after Trim: %d live allocations, %d held", len(f.live), p.Stats().Held)
	}
}

func TestPoolLimit(t *testing.T) {
	tests := []struct {
		name    string
		limit   int64
		failAt  int64
		cached  int64 // a block of this size is cached first
		ask     int64
		wantErr error
	}{
		{name: "fits", limit: 4096, ask: 2048},
		{name: "over the limit", limit: 4096, ask: 8192, wantErr: ErrPoolLimit},
		{name: "cache trimmed to fit the limit", limit: 4096, cached: 4096, ask: 2048},
		{name: "device full: cache trimmed and retried", failAt: 4096, cached: 4096, ask: 2048},
		{name: "device full for good", failAt: 1024, ask: 2048, wantErr: errFakeOOM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPool(&fakeAlloc{failAt: tc.failAt}, tc.limit)
			if tc.cached > 0 {
				b, err := p.Get(tc.cached)
				if err != nil {
					t.Fatal(err)
				}
				p.Put(b)
			}
			_, err := p.Get(tc.ask)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get(%d) err %v, want %v", tc.ask, err, tc.wantErr)
			}
			if s := p.Stats(); tc.limit > 0 && s.Held > tc.limit {
				t.Errorf("holds %d bytes beyond the limit %d", s.Held, tc.limit)
			}
		})
	}
}

func TestPoolNegative(t *testing.T) {
	if _, err := NewPool(&fakeAlloc{}, 0).Get(-1); err == nil {
		t.Error("Get(-1) succeeded")
	}
}
