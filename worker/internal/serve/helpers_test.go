package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/torchgate/torchgate/worker/internal/engine"
	pb "github.com/torchgate/torchgate/worker/internal/inference/inferencepb"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// archiveDir holds the archives and golden .npy files made with torch 1.13.
var archiveDir = filepath.Join("..", "..", "testdata", "torch113")

// testServer is a Server behind a real REST listener and a real gRPC listener.
type testServer struct {
	srv  *Server
	reg  *prometheus.Registry
	url  string
	grpc pb.GRPCInferenceServiceClient
}

// startServer serves versions on 127.0.0.1 ports until the test ends.
func startServer(t testing.TB, opts Options, versions ...ModelVersion) *testServer {
	t.Helper()
	if opts.Registry == nil {
		opts.Registry = prometheus.NewPedanticRegistry()
	}
	srv, err := New(opts, versions)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(srv.GRPCServerOptions()...)
	srv.RegisterGRPC(gs)
	go gs.Serve(gl) //nolint:errcheck // ends with Stop
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{srv: srv, reg: opts.Registry, url: hs.URL, grpc: pb.NewGRPCInferenceServiceClient(conn)}
}

// loadArchive loads testdata/torch113/<name>.pt.
func loadArchive(t testing.TB, name string) *engine.Model {
	t.Helper()
	m, err := engine.Load(filepath.Join(archiveDir, name+".pt"), engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// readNPY reads a golden file of testdata/torch113.
func readNPY(t testing.TB, file string) engine.Tensor {
	t.Helper()
	x, err := engine.ReadNPY(filepath.Join(archiveDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// row returns row i of a batch-first tensor as a batch of one.
func row(x engine.Tensor, i int) engine.Tensor {
	per := len(x.Float32) / x.Shape[0]
	shape := slices.Clone(x.Shape)
	shape[0] = 1
	return engine.Tensor{Shape: shape, Float32: slices.Clone(x.Float32[i*per : (i+1)*per])}
}

// jsonTensor is a tensor in a REST body.
type jsonTensor struct {
	Name       string         `json:"name"`
	Shape      []int          `json:"shape"`
	Datatype   string         `json:"datatype"`
	Data       any            `json:"data,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// jsonResponse is a REST inference response.
type jsonResponse struct {
	ModelName    string       `json:"model_name"`
	ModelVersion string       `json:"model_version"`
	ID           string       `json:"id"`
	Outputs      []jsonTensor `json:"outputs"`
	Error        string       `json:"error"`
}

// inferBody is the JSON body for one FP32 input.
func inferBody(name string, x engine.Tensor) []byte {
	b, _ := json.Marshal(map[string]any{"id": "req-1", "inputs": []jsonTensor{{Name: name, Shape: x.Shape, Datatype: "FP32", Data: x.Float32}}})
	return b
}

// post sends a REST request and returns the status, headers and body.
func post(t testing.TB, ctx context.Context, url string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// floats converts JSON data (a []any of numbers) to float32.
func floats(t testing.TB, data any) []float32 {
	t.Helper()
	arr, ok := data.([]any)
	if !ok {
		t.Fatalf("data %T is not an array", data)
	}
	out := make([]float32, len(arr))
	for i, v := range arr {
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("data[%d] is %T", i, v)
		}
		out[i] = float32(f)
	}
	return out
}

// fakeModel is a model of one FP32 input x [-1, 2] that doubles it; runs wait on gate when
// it is set, and each run's first value goes to started.
type fakeModel struct {
	gate    chan struct{}
	started chan float32
	mu      sync.Mutex
	runs    int
}

func (f *fakeModel) Inputs() []engine.IO {
	return []engine.IO{{Name: "x", DType: torchscript.Float32, Shape: []int{-1, 2}}}
}

func (f *fakeModel) Outputs() []engine.IO {
	return []engine.IO{{Name: "output_0", DType: torchscript.Float32, Shape: []int{-1, 2}}}
}

func (f *fakeModel) Run(ctx context.Context, in []engine.Tensor) ([]engine.Tensor, error) {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	if f.started != nil {
		f.started <- in[0].Float32[0]
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := engine.Tensor{Shape: slices.Clone(in[0].Shape)}
	for _, v := range in[0].Float32 {
		out.Float32 = append(out.Float32, 2*v)
	}
	return []engine.Tensor{out}, nil
}

func (f *fakeModel) runCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs
}

// newFake returns a gated fake model.
func newFake() *fakeModel {
	return &fakeModel{gate: make(chan struct{}), started: make(chan float32, 64)}
}

// waitQueue waits until the version's queue holds n requests.
func waitQueue(t testing.TB, ts *testServer, model string, n int) {
	t.Helper()
	_, v, err := ts.srv.lookup(model, "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for v.batcher.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue length %d, want %d", v.batcher.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// counterValue returns the sum of a counter family's series whose labels include want.
func counterValue(t testing.TB, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v }) {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
