package loadgen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a minimal gRPC client on one HTTP/2 connection, for unary calls of one method with
// pre-encoded requests: the protocol on the wire is gRPC's (HTTP/2 frames, HPACK, the
// length-prefixed message, grpc-status trailers, flow control), but each call costs a fraction
// of grpc-go's client CPU, as Envoy's C++ client does. On two shared cores the generator's
// CPU is CPU the measured server does not get.
//
// It works as Envoy's worker does, in one event loop (see run): one goroutine reads what the
// server sent, completes those calls, starts the next ones and writes them all at once when it
// has read everything that had arrived — no goroutine hand-off per call, and one write system
// call for the calls that one read completed.
type h2Conn struct {
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	fr     *http2.Framer
	header []byte // the request's HPACK block, stateless (no dynamic table), sent on every call
	denied func([]byte) (bool, error)

	nextID     uint32
	sendWindow int64 // connection-level flow-control credit for request DATA
	unacked    int   // response DATA bytes received and not yet returned as connection window
	err        error // the connection's first failure; the connection is unusable after it
}

// h2Slot is one of a run's concurrent calls: the stream it is on, and what has arrived.
type h2Slot struct {
	next  int // index of the request it sends next
	id    uint32
	start time.Time
	body  []byte
}

// h2InitialWindow is the flow-control window HTTP/2 starts with (RFC 9113 §6.9.2).
const h2InitialWindow = 65535

// h2DrainTimeout bounds the wait for the calls still in flight when a run ends, and for an
// answer at all.
const h2DrainTimeout = 5 * time.Second

// dialH2 connects to a gRPC server at addr over cleartext HTTP/2 (prior knowledge), for calls
// of r.
func dialH2(addr string, r rpc) (*h2Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &h2Conn{conn: conn, nextID: 1, sendWindow: h2InitialWindow, denied: r.denied}
	c.br = bufio.NewReaderSize(conn, 32<<10)
	c.bw = bufio.NewWriterSize(conn, 32<<10)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSize(0) // every field a literal or a static index: the block can be resent as is
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", r.method},
		{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			conn.Close()
			return nil, err
		}
	}
	c.header = hb.Bytes()

	_, err = c.bw.WriteString(http2.ClientPreface)
	if err == nil {
		err = c.fr.WriteSettings()
	}
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *h2Conn) Close() error { return c.conn.Close() }

// run keeps slots calls in flight on the connection until the deadline, closed loop: a
// slot sends its next request as soon as its answer is in. Slot s sends reqs[first+s],
// reqs[first+s+1], ... (cyclically). The answers that arrive before the deadline are tallied;
// those in flight then are awaited, for a clean connection, and not counted. A connection
// failure counts every call in flight as an error and ends the run; later runs fail at once.
func (c *h2Conn) run(reqs []encodedRequest, first, slots int, deadline time.Time) tally {
	r := &h2Run{c: c, deadline: deadline, inflight: map[uint32]*h2Slot{}}
	if c.err != nil {
		r.t.fail(c.err, 1)
		return r.t
	}
	r.msgs = make([][]byte, len(reqs)) // gRPC messages: uncompressed flag, big-endian length, bytes
	for i, req := range reqs {
		r.msgs[i] = append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(req))), req...)
	}
	var err error
	for s := range slots {
		if err == nil {
			err = r.start(&h2Slot{next: first + s})
		}
	}
	if err == nil {
		err = c.bw.Flush()
	}
	// Answers arriving after the deadline end the run (the calls still in flight are awaited);
	// a server that stops answering fails the connection h2DrainTimeout after it.
	_ = c.conn.SetReadDeadline(deadline.Add(h2DrainTimeout))
	for err == nil && (len(r.inflight) > 0 || len(r.blocked) > 0) {
		var f http2.Frame
		f, err = c.fr.ReadFrame()
		if err == nil {
			err = r.handle(f)
		}
		if err == nil && len(r.blocked) > 0 && c.sendWindow > 0 {
			waiting := r.blocked
			r.blocked = nil
			for _, s := range waiting {
				if err = r.start(s); err != nil {
					break
				}
			}
		}
		// All that had arrived is handled: what it started goes out in one write.
		if err == nil && c.br.Buffered() == 0 && c.bw.Buffered() > 0 {
			err = c.bw.Flush()
		}
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	if err != nil {
		c.err = err
		r.t.fail(err, len(r.inflight)+len(r.blocked))
	}
	return r.t
}

// h2Run is the state of one run on a connection.
type h2Run struct {
	c        *h2Conn
	msgs     [][]byte
	deadline time.Time
	draining bool               // the deadline has passed: no new calls
	inflight map[uint32]*h2Slot // by stream id
	blocked  []*h2Slot          // waiting for connection-level flow-control window
	t        tally
}

// start sends slot s's next request, or queues s until the connection has window for it.
func (r *h2Run) start(s *h2Slot) error {
	c := r.c
	msg := r.msgs[s.next%len(r.msgs)]
	if c.sendWindow < int64(len(msg)) {
		r.blocked = append(r.blocked, s)
		return nil
	}
	c.sendWindow -= int64(len(msg))
	s.id, c.nextID = c.nextID, c.nextID+2
	s.start, s.body = time.Now(), s.body[:0]
	r.inflight[s.id] = s
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: c.header, EndHeaders: true})
	if err == nil {
		err = c.fr.WriteData(s.id, true, msg)
	}
	return err
}

// finish ends the call on stream id with a grpc-status (or a transport failure text), tallies
// it and starts the slot's next call, unless the run is over.
func (r *h2Run) finish(id uint32, status string) error {
	s := r.inflight[id]
	if s == nil {
		return nil // a stream already reset
	}
	delete(r.inflight, id)
	if r.draining {
		return nil
	}
	now := time.Now()
	if !now.Before(r.deadline) {
		r.draining, r.blocked = true, nil
		return nil
	}
	denied, err := s.outcome(status, r.c.denied)
	r.t.record(now.Sub(s.start), denied, err)
	s.next++
	return r.start(s)
}

// handle acts on one frame from the server: answers end calls, SETTINGS and PINGs are
// acknowledged, and flow-control window is returned and received.
func (r *h2Run) handle(f http2.Frame) error {
	c := r.c
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		if status := f.PseudoValue("status"); status != "" && status != "200" {
			return r.finish(f.StreamID, "http "+status)
		}
		if f.StreamEnded() {
			return r.finish(f.StreamID, headerValue(f.Fields, "grpc-status"))
		}
	case *http2.DataFrame:
		if s := r.inflight[f.StreamID]; s != nil {
			s.body = append(s.body, f.Data()...)
		}
		if c.unacked += int(f.Length); c.unacked >= h2InitialWindow/4 {
			n := c.unacked
			c.unacked = 0
			return c.fr.WriteWindowUpdate(0, uint32(n))
		}
	case *http2.SettingsFrame:
		if !f.IsAck() {
			return c.fr.WriteSettingsAck()
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			return c.fr.WritePing(true, f.Data)
		}
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			c.sendWindow += int64(f.Increment)
		}
	case *http2.RSTStreamFrame:
		return r.finish(f.StreamID, "reset "+strconv.Itoa(int(f.ErrCode)))
	case *http2.GoAwayFrame:
		return fmt.Errorf("loadgen: server sent GOAWAY %v", f.ErrCode)
	}
	return nil
}

// outcome reads the finished call's answer, given its grpc-status (or a transport failure
// text) and how its message reads: whether it was a denial, or why it failed.
func (s *h2Slot) outcome(status string, readDenied func([]byte) (bool, error)) (denied bool, err error) {
	if status != "0" {
		return false, fmt.Errorf("loadgen: grpc-status %q", status)
	}
	if len(s.body) < 5 {
		return false, errors.New("loadgen: response without a message")
	}
	return readDenied(s.body[5:])
}

func headerValue(fields []hpack.HeaderField, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
