package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the REST API (Open Inference Protocol v2 with Triton's binary tensor
// extension) and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", s.handleServerMetadata)
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v2/health/ready", s.handleServerReady)
	mux.HandleFunc("GET /v2/models/{model}", s.handleModelMetadata)
	mux.HandleFunc("GET /v2/models/{model}/versions/{version}", s.handleModelMetadata)
	mux.HandleFunc("GET /v2/models/{model}/ready", s.handleModelReady)
	mux.HandleFunc("GET /v2/models/{model}/versions/{version}/ready", s.handleModelReady)
	mux.HandleFunc("POST /v2/models/{model}/infer", s.handleInfer)
	mux.HandleFunc("POST /v2/models/{model}/versions/{version}/infer", s.handleInfer)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	return mux
}

// serverName and serverVersion answer the server metadata request.
const (
	serverName    = "torchgate-worker"
	serverVersion = "0.1.0"
	platform      = "pytorch_torchscript"
)

// extensions are the protocol extensions served.
var extensions = []string{"binary_tensor_data"}

// jsonTensorMeta is a tensor in model metadata.
type jsonTensorMeta struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

// handleServerMetadata answers GET /v2.
func (s *Server) handleServerMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": serverName, "version": serverVersion, "extensions": extensions})
}

// handleServerReady answers GET /v2/health/ready.
func (s *Server) handleServerReady(w http.ResponseWriter, _ *http.Request) {
	if !s.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleModelReady answers GET /v2/models/{model}[/versions/{version}]/ready.
func (s *Server) handleModelReady(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.lookup(r.PathValue("model"), r.PathValue("version")); err != nil {
		writeError(w, err)
		return
	}
	s.handleServerReady(w, r)
}

// handleModelMetadata answers GET /v2/models/{model}[/versions/{version}].
func (s *Server) handleModelMetadata(w http.ResponseWriter, r *http.Request) {
	sm, v, err := s.lookup(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	meta := func(specs []tensorSpec) []jsonTensorMeta {
		out := make([]jsonTensorMeta, len(specs))
		for i, sp := range specs {
			out[i] = jsonTensorMeta{Name: sp.name, Datatype: sp.datatype, Shape: metaShape(sp.dims)}
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": sm.name, "versions": sm.numbers, "platform": platform,
		"inputs": meta(v.inputSpecs()), "outputs": meta(v.outputs()),
	})
}

// metaShape is the shape shown in metadata: [-1] when the rank is not known.
func metaShape(dims []int) []int {
	if dims == nil {
		return []int{-1}
	}
	return dims
}

// handleInfer answers POST /v2/models/{model}[/versions/{version}]/infer.
func (s *Server) handleInfer(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	id, err := s.identify(peerInfo{addr: r.RemoteAddr, tls: r.TLS}, headerKeys(r.Header), r.Header.Get)
	if err != nil {
		s.failed(model, toError(err))
		writeError(w, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.failed(model, toError(err))
		writeError(w, err)
		return
	}
	req, err := decodeInfer(body, r.Header.Get(HeaderContentLength))
	if err != nil {
		s.failed(model, toError(err))
		writeError(w, err)
		return
	}
	v, outs, err := s.serveInfer(r.Context(), model, r.PathValue("version"), req, id)
	if err != nil {
		writeError(w, err)
		return
	}
	resp, jsonLen := encodeInfer(v, req, outs)
	if jsonLen < len(resp) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(HeaderContentLength, strconv.Itoa(jsonLen))
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp) //nolint:errcheck // the client may be gone; nothing to do
}

// readBody reads the request body up to the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, ErrTooLarge.withDetail("body of %d bytes is over the %d-byte limit", r.ContentLength, limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, ErrTooLarge.withDetail("body is over the %d-byte limit", limit)
	case err != nil:
		return nil, ErrInvalid.withDetail("reading the body: %v", err)
	}
	return buf.Bytes(), nil
}

// headerKeys returns the names of the request's headers.
func headerKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// writeError writes err (converted by toError) as {"error": "..."} with its status.
func writeError(w http.ResponseWriter, err error) {
	e := toError(err)
	if e.Reason == ErrQueueFull.Reason {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Error()})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client may be gone; nothing to do
}
