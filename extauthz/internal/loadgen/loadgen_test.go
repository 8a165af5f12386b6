package loadgen

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRedisDurationReadsTheServersHistogram(t *testing.T) {
	body := "# TYPE torchgate_redis_duration_seconds histogram\n" +
		"torchgate_redis_duration_seconds_bucket{le=\"0.001\"} 3\n" +
		"torchgate_redis_duration_seconds_sum 0.5\n" +
		"torchgate_redis_duration_seconds_count 1000\n"
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }))
	defer metrics.Close()
	s := &server{httpAddr: strings.TrimPrefix(metrics.URL, "http://")}

	h0, err := s.redisDuration()
	if err != nil || h0 != (histogram{sum: 0.5, count: 1000}) {
		t.Fatalf("got %+v, %v", h0, err)
	}
	if got := (histogram{sum: 2.5, count: 3000}).meanSince(h0); got != time.Millisecond {
		t.Errorf("mean of 2 s over 2000 calls = %v, want 1ms", got)
	}
	if got := h0.meanSince(h0); got != 0 {
		t.Errorf("mean of no calls = %v, want 0", got)
	}

	body = "torchgate_checks_total 1\n"
	if _, err := s.redisDuration(); err == nil {
		t.Error("metrics without the histogram: no error")
	}
}

// recordingCaller remembers the slots a run gave it and answers nothing.
type recordingCaller struct{ first, slots int }

func (r *recordingCaller) run(_ []encodedRequest, first, slots int, _ time.Time) tally {
	r.first, r.slots = first, slots
	return tally{}
}

func (*recordingCaller) Close() error { return nil }

func TestDriveSharesTheSlotsOut(t *testing.T) {
	recs := []*recordingCaller{{}, {}, {}, {}}
	callers := make([]caller, len(recs))
	for i, r := range recs {
		callers[i] = r
	}
	drive(callers, []encodedRequest{{1}, {2}}, 10, time.Millisecond)
	// 10 slots over 4 connections: 3, 3, 2, 2, each caller's slots following the last's.
	want := [][2]int{{0, 3}, {3, 3}, {6, 2}, {8, 2}}
	for i, r := range recs {
		if got := [2]int{r.first, r.slots}; got != want[i] {
			t.Errorf("caller %d: first %d, slots %d; want %v", i, r.first, r.slots, want[i])
		}
	}
}
