package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// shutdownGrace bounds how long in-flight requests may take to finish on shutdown.
const shutdownGrace = 10 * time.Second

// maxRequestHeaderBytes is Envoy's max_request_headers_kb default (60 KiB).
const maxRequestHeaderBytes = 60 << 10

// Edge is a compiled dev edge. Create it with New, then call Run.
type Edge struct {
	listen, admin        string
	useRemoteAddress     bool
	generateRequestID    bool
	normalizePath        bool
	mergeSlashes         bool
	rejectEscapedSlashes bool
	filters              []filter
	authz                []*authzFilter
	vhosts               []*vhost
	clusters             map[string]*cluster
	proxies              map[*cluster]*proxy
	accessLog            *accessLog
	logger               *slog.Logger
	now                  func() time.Time

	addr, adminAddr atomic.Value // bound addresses (string), set once listening
}

// filter is one HTTP filter's request stage. decode returns false when the filter answered
// the request itself (a local reply); the chain stops there.
type filter interface {
	decode(x *exchange) bool
}

// Addr returns the listener's bound address once Run is listening, else "".
func (e *Edge) Addr() string { v, _ := e.addr.Load().(string); return v }

// AdminAddr returns the admin listener's bound address once Run is listening, else "".
func (e *Edge) AdminAddr() string { v, _ := e.adminAddr.Load().(string); return v }

// Run serves until ctx is done, then shuts down gracefully (in-flight requests finish,
// bounded) and closes upstream connections.
func (e *Edge) Run(ctx context.Context) error {
	defer e.close()
	e.proxies = make(map[*cluster]*proxy, len(e.clusters))
	for _, c := range e.clusters {
		e.proxies[c] = newProxy(c, e.logger)
	}
	ln, err := net.Listen("tcp", e.listen)
	if err != nil {
		return fmt.Errorf("edge: listener: %w", err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: maxRequestHeaderBytes,
		Protocols: protocols, ErrorLog: slog.NewLogLogger(e.logger.Handler(), slog.LevelWarn)}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	serve := func(s *http.Server, l net.Listener) {
		if err := s.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	if e.admin != "" {
		al, err := net.Listen("tcp", e.admin)
		if err != nil {
			ln.Close()
			return fmt.Errorf("edge: admin listener: %w", err)
		}
		as := &http.Server{Handler: adminHandler(), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, as)
		e.adminAddr.Store(al.Addr().String())
		go serve(as, al)
	}
	e.addr.Store(ln.Addr().String())
	go serve(srv, ln)
	hctx, stopHealth := context.WithCancel(ctx)
	defer stopHealth()
	for _, c := range e.clusters {
		c.runHealthChecks(hctx, e.logger)
	}
	e.logger.Info("dev edge listening", "addr", e.Addr(), "admin", e.AdminAddr())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return runErr
}

// close releases upstream connections.
func (e *Edge) close() {
	for _, a := range e.authz {
		_ = a.conn.Close()
	}
	for _, c := range e.clusters {
		c.transport.CloseIdleConnections()
	}
}

// adminHandler serves the one admin endpoint the dev edge has: GET /ready ("LIVE").
func adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte("LIVE\n"))
	})
	return mux
}

// exchange is one request on its way through the filter chain.
type exchange struct {
	w               *recorder
	r               *http.Request
	start           time.Time
	path            string // :path after normalisation (path and query)
	requestID       string
	route           *route
	metadata        map[string]*structpb.Struct // dynamic metadata by namespace
	responseHeaders []*corev3.HeaderValueOption // added to the upstream response
	cluster, host   string                      // upstream chosen by the router
	flags           string                      // Envoy response flags (UAEX, NR, UF, UT, ...)
	bytesIn         *countingBody
}

// ServeHTTP runs one request through the connection manager, the filters and the router.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: &recorder{ResponseWriter: w}, r: r, start: e.now(), metadata: map[string]*structpb.Struct{}}
	x.bytesIn = &countingBody{ReadCloser: r.Body}
	r.Body = x.bytesIn
	defer func() {
		if e.accessLog != nil {
			e.accessLog.write(x, e.now())
		}
	}()
	if !e.prepare(x) {
		return
	}
	for _, f := range e.filters {
		if !f.decode(x) {
			return
		}
	}
	e.route(x)
}

// prepare is the connection manager's part: path handling, request id, forwarding headers,
// route selection. It returns false after answering a bad request.
func (e *Edge) prepare(x *exchange) bool {
	r := x.r
	raw := r.RequestURI
	if !strings.HasPrefix(raw, "/") {
		raw = r.URL.RequestURI()
	}
	p, q, hasQuery := strings.Cut(raw, "?")
	p, err := canonicalPath(p, e.rejectEscapedSlashes, e.normalizePath, e.mergeSlashes)
	if err != nil {
		x.reply(http.StatusBadRequest, nil, "Bad Request", "DPE")
		return false
	}
	r.URL.Path, err = unescapePath(p)
	if err != nil {
		x.reply(http.StatusBadRequest, nil, "Bad Request", "DPE")
		return false
	}
	r.URL.RawPath, r.URL.RawQuery = p, q
	x.path = p
	if hasQuery {
		x.path += "?" + q
	}
	x.requestID = r.Header.Get("X-Request-Id")
	if x.requestID == "" && e.generateRequestID {
		x.requestID = newUUID()
		r.Header.Set("X-Request-Id", x.requestID)
	}
	if e.useRemoteAddress {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
				host = strings.Join(prior, ",") + "," + host
			}
			r.Header.Set("X-Forwarded-For", host)
		}
		r.Header.Set("X-Forwarded-Proto", "http")
	}
	if v := selectVhost(e.vhosts, r.Host); v != nil {
		x.route = v.match(x.path)
	}
	return true
}

// route is the router filter: a direct response, or the request proxied to the route's cluster.
func (e *Edge) route(x *exchange) {
	rt := x.route
	switch {
	case rt == nil:
		x.reply(http.StatusNotFound, nil, "", "NR")
	case rt.direct != nil:
		applyHeaders(x.w.Header(), rt.responseHeaders)
		x.reply(rt.direct.status, nil, rt.direct.body, "")
	default:
		e.proxies[rt.cluster].serve(x)
	}
}

// reply sends a local reply: status, headers (Envoy's append semantics) and body. A body
// without a content-type is sent as text/plain, as Envoy does.
func (x *exchange) reply(status int, headers []*corev3.HeaderValueOption, body, flag string) {
	x.flags = flag
	h := x.w.Header()
	applyHeaders(h, headers)
	if body != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/plain")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		_, _ = x.w.Write([]byte(body))
	}
}

// newUUID returns a random (version 4) UUID, as Envoy generates for x-request-id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
