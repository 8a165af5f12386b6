// Package audit writes the audit trail: one JSON line per authorization decision, per issued or
// refused token, per revocation. Lines are handed to a bounded buffer and written by one
// background goroutine, so a slow disk never slows a Check; when the buffer is full a line is
// dropped and counted (torchgate_audit_dropped_total) rather than blocking. Lines reach the
// writer in batches, at most 200 ms after they were logged, and all of them at Close.
//
// Callers pass only identifiers (client id, subject, jti, ...), never a token or a secret.
// A Logger is safe for concurrent use.
package audit

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type entry struct {
	time  time.Time
	msg   string
	attrs []slog.Attr
}

// Logger is an asynchronous JSON-lines audit logger.
type Logger struct {
	buf      *bufio.Writer // only run touches it
	line     []byte        // reused encoding buffer; only run touches it
	ch       chan entry
	dropped  prometheus.Counter
	done     chan struct{} // closed by Close
	finished chan struct{} // closed by run after the last write
	close    sync.Once
}

// New starts a Logger writing JSON lines to w with room for buffer pending lines. reg may be
// nil; otherwise the dropped-lines counter is registered on it.
func New(w io.Writer, buffer int, reg prometheus.Registerer) *Logger {
	if buffer < 1 {
		buffer = 1
	}
	buf := bufio.NewWriterSize(w, 64<<10)
	l := &Logger{
		buf: buf,
		ch:  make(chan entry, buffer),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "torchgate_audit_dropped_total",
			Help: "Audit log lines dropped because the audit buffer was full.",
		}),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	if reg != nil {
		reg.MustRegister(l.dropped)
	}
	go l.run()
	return l
}

// Log queues one line. It never blocks: when the buffer is full the line is dropped and counted.
// Log after Close drops the line.
func (l *Logger) Log(t time.Time, msg string, attrs ...slog.Attr) {
	select {
	case <-l.done:
		l.dropped.Inc()
		return
	default:
	}
	select {
	case l.ch <- entry{time: t, msg: msg, attrs: attrs}:
	default:
		l.dropped.Inc()
	}
}

// Close stops accepting lines, writes every line already queued, and returns.
func (l *Logger) Close() {
	l.close.Do(func() { close(l.done) })
	<-l.finished
}

// flushInterval bounds how long a written line may sit in the buffer before it reaches the
// file. Flushing per batch rather than per line keeps the write system calls off the CPU budget
// of a busy service.
const flushInterval = 200 * time.Millisecond

// run writes queued lines, flushing on a timer, when the buffer fills, and at Close.
func (l *Logger) run() {
	defer close(l.finished)
	defer l.buf.Flush()
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case e := <-l.ch:
			l.write(e)
		case <-tick.C:
			_ = l.buf.Flush()
		case <-l.done:
			for {
				select {
				case e := <-l.ch:
					l.write(e)
				default:
					return
				}
			}
		}
	}
}

func (l *Logger) write(e entry) {
	l.line = appendLine(l.line[:0], e)
	_, _ = l.buf.Write(l.line)
}
