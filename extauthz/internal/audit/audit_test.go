package audit

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/torchgate/torchgate/extauthz/internal/syncbuf"
)

// blockingWriter announces each write on entered, then holds it until released.
type blockingWriter struct{ entered, release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) {
	w.entered <- struct{}{}
	<-w.release
	return len(p), nil
}

func TestLinesAreJSONAndFlushedOnClose(t *testing.T) {
	var buf syncbuf.Buffer
	l := New(&buf, 16, nil)
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		l.Log(at, "authz.decision", slog.Int("n", i), slog.String("client_id", "c1"))
	}
	l.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[9]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "authz.decision" || rec["client_id"] != "c1" || rec["n"] != float64(9) || rec["time"] != "2026-11-29T12:00:00Z" {
		t.Errorf("line = %v", rec)
	}
}

func TestFullBufferDropsAndCounts(t *testing.T) {
	w := blockingWriter{entered: make(chan struct{}, 100), release: make(chan struct{})}
	reg := prometheus.NewPedanticRegistry()
	l := New(w, 2, reg)
	// A line larger than the write buffer goes straight to the writer, which then hangs.
	l.Log(time.Now(), strings.Repeat("x", 128<<10))
	<-w.entered
	for range 10 {
		l.Log(time.Now(), "x") // never blocks, though the writer is stuck
	}
	dropped := testutil.ToFloat64(l.dropped)
	if dropped != 8 { // two fit the queue
		t.Errorf("dropped = %v, want 8", dropped)
	}
	close(w.release)
	l.Close()
	l.Log(time.Now(), "after close")
	if got := testutil.ToFloat64(l.dropped); got != dropped+1 {
		t.Errorf("a line after Close was not counted as dropped: %v", got)
	}
}
