package loadgen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a minimal gRPC client on one HTTP/2 connection, for unary Check calls with
// pre-encoded requests: the protocol on the wire is gRPC's (HTTP/2 frames, HPACK, the
// length-prefixed message, grpc-status trailers, flow control), but each call costs a fraction
// of grpc-go's client CPU, as Envoy's C++ client does. On two shared cores the generator's
// CPU is CPU the measured server does not get.
type h2Conn struct {
	conn   net.Conn
	header []byte // the request's HPACK block, stateless (no dynamic table), sent on every call

	queued     atomic.Int32 // writers waiting for wmu: the last one out flushes, so concurrent calls share a write syscall
	wmu        sync.Mutex   // guards the writer side below
	bw         *bufio.Writer
	fr         *http2.Framer
	nextID     uint32
	sendWindow int64 // connection-level flow-control credit for request DATA
	credit     *sync.Cond

	mu      sync.Mutex // guards pending and err
	pending map[uint32]*h2Call
	err     error
}

// h2Call is one Check in flight.
type h2Call struct {
	body   []byte
	status string // grpc-status from the trailers
	done   chan struct{}
}

// h2InitialWindow is the flow-control window HTTP/2 starts with (RFC 9113 §6.9.2).
const h2InitialWindow = 65535

// dialH2 connects to a gRPC server at addr over cleartext HTTP/2 (prior knowledge).
func dialH2(addr string) (*h2Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &h2Conn{conn: conn, nextID: 1, sendWindow: h2InitialWindow, pending: map[uint32]*h2Call{}}
	c.credit = sync.NewCond(&c.wmu)
	c.bw = bufio.NewWriterSize(conn, 32<<10)
	c.fr = http2.NewFramer(c.bw, bufio.NewReaderSize(conn, 32<<10))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSize(0) // every field a literal or a static index: the block can be resent as is
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", authv3.Authorization_Check_FullMethodName},
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
	go c.readLoop()
	return c, nil
}

// Close closes the connection; calls in flight fail.
func (c *h2Conn) Close() error { return c.conn.Close() }

// check sends one Check with the encoded request and reports whether the answer was a denial.
func (c *h2Conn) check(req encodedRequest) (denied bool, err error) {
	call := &h2Call{done: make(chan struct{})}
	msg := make([]byte, 5+len(req)) // gRPC message: uncompressed flag, big-endian length, bytes
	binary.BigEndian.PutUint32(msg[1:5], uint32(len(req)))
	copy(msg[5:], req)

	c.lockWriter()
	for c.sendWindow < int64(len(msg)) && c.failed() == nil {
		// What earlier writers left in the buffer must go out before waiting: the server
		// returns window only for data it has received.
		if err := c.bw.Flush(); err != nil {
			c.wmu.Unlock()
			c.fail(err)
			return false, err
		}
		c.credit.Wait()
	}
	id := c.nextID
	c.nextID += 2
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		c.wmu.Unlock()
		return false, err
	}
	c.pending[id] = call
	c.mu.Unlock()
	c.sendWindow -= int64(len(msg))
	err = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.header, EndHeaders: true})
	if err == nil {
		err = c.fr.WriteData(id, true, msg)
	}
	if err == nil {
		err = c.unlockWriter()
	} else {
		c.wmu.Unlock()
	}
	if err != nil {
		c.fail(err)
		return false, err
	}

	<-call.done
	if err := c.failed(); err != nil && call.status == "" {
		return false, err
	}
	if call.status != "0" {
		return false, fmt.Errorf("loadgen: grpc-status %q", call.status)
	}
	if len(call.body) < 5 {
		return false, errors.New("loadgen: response without a message")
	}
	var out checkOutcome
	if err := readOutcome(call.body[5:], &out); err != nil {
		return false, err
	}
	return out.denied, nil
}

// readLoop reads frames until the connection fails, completing calls and answering the
// server's SETTINGS, PINGs and flow control.
func (c *h2Conn) readLoop() {
	unacked := 0 // DATA bytes received and not yet returned as connection window
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.fail(err)
			return
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if status := f.PseudoValue("status"); status != "" && status != "200" {
				c.finish(f.StreamID, "http "+status)
			} else if f.StreamEnded() {
				c.finish(f.StreamID, headerValue(f.Fields, "grpc-status"))
			}
		case *http2.DataFrame:
			c.mu.Lock()
			if call := c.pending[f.StreamID]; call != nil {
				call.body = append(call.body, f.Data()...)
			}
			c.mu.Unlock()
			if unacked += int(f.Length); unacked >= h2InitialWindow/4 {
				err = c.write(func() error { return c.fr.WriteWindowUpdate(0, uint32(unacked)) })
				unacked = 0
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = c.write(c.fr.WriteSettingsAck)
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				err = c.write(func() error { return c.fr.WritePing(true, f.Data) })
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				c.wmu.Lock()
				c.sendWindow += int64(f.Increment)
				c.credit.Broadcast()
				c.wmu.Unlock()
			}
		case *http2.RSTStreamFrame:
			c.finish(f.StreamID, "reset "+strconv.Itoa(int(f.ErrCode)))
		case *http2.GoAwayFrame:
			err = fmt.Errorf("loadgen: server sent GOAWAY %v", f.ErrCode)
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// write sends one frame from the reader, under the writer's lock.
func (c *h2Conn) write(frame func() error) error {
	c.lockWriter()
	if err := frame(); err != nil {
		c.wmu.Unlock()
		return err
	}
	return c.unlockWriter()
}

// lockWriter takes the writer's lock, announcing the wait to the writer before.
func (c *h2Conn) lockWriter() {
	c.queued.Add(1)
	c.wmu.Lock()
	c.queued.Add(-1)
}

// unlockWriter flushes what was written unless another writer is queued (it will flush, after
// appending its frames), and releases the lock.
func (c *h2Conn) unlockWriter() error {
	var err error
	if c.queued.Load() == 0 {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	return err
}

// finish completes the call on stream id with a grpc-status (or a transport failure text).
func (c *h2Conn) finish(id uint32, status string) {
	c.mu.Lock()
	call := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if call != nil {
		call.status = status
		close(call.done)
	}
}

// fail records the connection's first error and fails every call in flight.
func (c *h2Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	calls := c.pending
	c.pending = map[uint32]*h2Call{}
	c.mu.Unlock()
	for _, call := range calls {
		close(call.done)
	}
	c.wmu.Lock()
	c.credit.Broadcast()
	c.wmu.Unlock()
}

func (c *h2Conn) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func headerValue(fields []hpack.HeaderField, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
