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
