package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
)

type exchangeKey struct{}

// proxy forwards requests to one cluster, streaming both ways (trailers included, so gRPC
// passes over HTTP/2 clusters).
type proxy struct {
	c  *cluster
	rp *httputil.ReverseProxy
}

func newProxy(c *cluster, logger *slog.Logger) *proxy {
	p := &proxy{c: c}
	p.rp = &httputil.ReverseProxy{
		Transport: c.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			x := pr.In.Context().Value(exchangeKey{}).(*exchange)
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", x.host
			// Rewrite drops the X-Forwarded-* headers; the connection manager already set them.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Values(h); len(v) > 0 {
					pr.Out.Header[h] = v
				}
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			x := resp.Request.Context().Value(exchangeKey{}).(*exchange)
			applyHeaders(resp.Header, x.responseHeaders)
			applyHeaders(resp.Header, x.route.responseHeaders)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			x := r.Context().Value(exchangeKey{}).(*exchange)
			switch {
			case errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded):
				x.reply(http.StatusGatewayTimeout, nil, "upstream request timeout", "UT")
			case r.Context().Err() != nil:
				x.flags = "DC" // the client went away
			default:
				logger.Warn("upstream request failed", "cluster", p.c.name, "endpoint", x.host,
					"request_id", x.requestID, "err", err)
				x.reply(http.StatusServiceUnavailable, nil,
					"upstream connect error or disconnect/reset before headers", "UF")
			}
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if c.http2 {
		p.rp.FlushInterval = -1 // gRPC streams: every write goes out at once
	}
	return p
}

func (p *proxy) serve(x *exchange) {
	ep := p.c.pick()
	x.cluster, x.host = p.c.name, ep.addr
	ctx := context.WithValue(x.r.Context(), exchangeKey{}, x)
	if t := x.route.timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	p.rp.ServeHTTP(x.w, x.r.WithContext(ctx))
}

// unescapePath decodes a canonical path for URL.Path.
func unescapePath(p string) (string, error) {
	if !strings.Contains(p, "%") {
		return p, nil
	}
	return url.PathUnescape(p)
}

// recorder remembers the status and size of the response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client (streaming responses).
func (w *recorder) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read (for %BYTES_RECEIVED%).
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
