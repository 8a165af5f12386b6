package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/torchgate/torchgate/worker/internal/inference/inferencepb"
	"github.com/torchgate/torchgate/worker/internal/repository"
)

func TestRESTErrors(t *testing.T) {
	ts := startServer(t, Options{MaxBodyBytes: 4096},
		ModelVersion{Name: "mlp", Version: 1, Instances: []Model{loadArchive(t, "mlp")}},
		ModelVersion{Name: "cnn", Version: 1, Instances: []Model{loadArchive(t, "cnn")}})
	mlpRow := `{"name":"x","shape":[1,16],"datatype":"FP32","data":[` + strings.Repeat("0.5,", 15) + `0.5]}`
	tests := []struct {
		name, path, body string
		header           map[string]string
		status           int
		errContains      string
	}{
		{name: "unknown model", path: "/v2/models/nope/infer", body: `{"inputs":[` + mlpRow + `]}`, status: 404, errContains: `unknown model "nope"`},
		{name: "unknown version", path: "/v2/models/mlp/versions/7/infer", body: `{"inputs":[` + mlpRow + `]}`, status: 404, errContains: "no version"},
		{name: "malformed JSON", path: "/v2/models/mlp/infer", body: `{"inputs":[`, status: 400, errContains: "malformed"},
		{name: "wrong input name", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[1]}]}`, status: 400, errContains: `unknown input "y": model mlp takes x FP32`},
		{name: "too many inputs", path: "/v2/models/mlp/infer", body: `{"inputs":[` + mlpRow + `,` + mlpRow + `]}`, status: 400, errContains: "takes 1 inputs"},
		{name: "wrong datatype", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[1,1],"datatype":"INT64","data":[1]}]}`, status: 400, errContains: "datatype INT64, expected FP32"},
		{name: "unsupported datatype", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]}`, status: 400, errContains: `datatype "BYTES" is not supported`},
		{name: "shape against dims", path: "/v2/models/cnn/infer", body: `{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`, status: 400, errContains: "expected [-1 3 -1 -1]"},
		{name: "shape the model refuses", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, status: 400},
		{name: "data shorter than shape", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","data":[1,2]}]}`, status: 400, errContains: "shape needs 16"},
		{name: "data longer than shape", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1,2]}]}`, status: 400, errContains: "more than the shape"},
		{name: "negative dimension", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[-1,16],"datatype":"FP32","data":[]}]}`, status: 400, errContains: "invalid shape"},
		{name: "unknown output", path: "/v2/models/mlp/infer", body: `{"inputs":[` + mlpRow + `],"outputs":[{"name":"OUTPUT__5"}]}`, status: 400, errContains: `unknown output "OUTPUT__5"`},
		{name: "binary size past the body", path: "/v2/models/mlp/infer", body: `{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","parameters":{"binary_data_size":64}}]}`,
			header: map[string]string{HeaderContentLength: "whole body"}, status: 400, errContains: "bytes of binary data left"},
		{name: "bad header length", path: "/v2/models/mlp/infer", body: `{}`, header: map[string]string{HeaderContentLength: "99"}, status: 400, errContains: HeaderContentLength},
		{name: "body over the limit", path: "/v2/models/mlp/infer", body: `{"id":"` + strings.Repeat("a", 5000) + `"}`, status: 413, errContains: "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.header[HeaderContentLength] == "whole body" {
				tc.header = map[string]string{HeaderContentLength: strconv.Itoa(len(tc.body))}
			}
			status, hdr, body := post(t, t.Context(), ts.url+tc.path, []byte(tc.body), tc.header)
			var resp jsonResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if status != tc.status || resp.Error == "" || !strings.Contains(resp.Error, tc.errContains) {
				t.Errorf("status %d error %q, want %d with %q", status, resp.Error, tc.status, tc.errContains)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if n := counterValue(t, ts.reg, "torchgate_inference_request_failure_total", map[string]string{"reason": "invalid"}); n < 10 {
		t.Errorf("%v invalid failures counted", n)
	}
}

func TestGRPCErrors(t *testing.T) {
	fake := newFake()
	ts := startServer(t, Options{MaxBodyBytes: 4096},
		ModelVersion{Name: "fake", Version: 1, Instances: []Model{fake}, Config: repository.Config{MaxBatchSize: 1, MaxQueueSize: 1}})
	in := func(name, dt string, shape ...int64) []*pb.ModelInferRequest_InferInputTensor {
		return []*pb.ModelInferRequest_InferInputTensor{{Name: name, Datatype: dt, Shape: shape}}
	}
	tests := []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
	}{
		{name: "unknown model", req: &pb.ModelInferRequest{ModelName: "nope"}, code: codes.NotFound},
		{name: "unknown version", req: &pb.ModelInferRequest{ModelName: "fake", ModelVersion: "2"}, code: codes.NotFound},
		{name: "raw length", req: &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "FP32", 1, 2), RawInputContents: [][]byte{make([]byte, 7)}}, code: codes.InvalidArgument},
		{name: "raw count", req: &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "FP32", 1, 2), RawInputContents: [][]byte{nil, nil}}, code: codes.InvalidArgument},
		{name: "contents count", req: &pb.ModelInferRequest{ModelName: "fake", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, 2}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1}}}}}, code: codes.InvalidArgument},
		{name: "shape", req: &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "FP32", 1, 3), RawInputContents: [][]byte{make([]byte, 12)}}, code: codes.InvalidArgument},
		{name: "datatype", req: &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "UINT8", 1, 2), RawInputContents: [][]byte{make([]byte, 2)}}, code: codes.InvalidArgument},
		{name: "message over the limit", req: &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "FP32", 1024, 2), RawInputContents: [][]byte{make([]byte, 8192)}}, code: codes.ResourceExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.grpc.ModelInfer(t.Context(), tc.req)
			if status.Code(err) != tc.code {
				t.Errorf("ModelInfer: %v, want %v", err, tc.code)
			}
		})
	}
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := ts.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "FP32", 1, 2), RawInputContents: [][]byte{make([]byte, 8)}})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("ModelInfer: %v, want DeadlineExceeded", err)
		}
		<-fake.started
	})
	t.Run("queue full", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req := &pb.ModelInferRequest{ModelName: "fake", Inputs: in("x", "FP32", 1, 2), RawInputContents: [][]byte{make([]byte, 8)}}
		go ts.grpc.ModelInfer(ctx, req) //nolint:errcheck // cancelled below
		<-fake.started
		go ts.grpc.ModelInfer(ctx, req) //nolint:errcheck // cancelled below
		waitQueue(t, ts, "fake", 1)
		_, err := ts.grpc.ModelInfer(t.Context(), req)
		if status.Code(err) != codes.Unavailable {
			t.Errorf("ModelInfer: %v, want Unavailable", err)
		}
	})
}

func TestQueueFullIs503(t *testing.T) {
	fake := newFake()
	ts := startServer(t, Options{}, ModelVersion{Name: "fake", Version: 1, Instances: []Model{fake},
		Config: repository.Config{MaxBatchSize: 1, MaxQueueSize: 1}})
	url := ts.url + "/v2/models/fake/infer"
	body := []byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	wg.Go(func() { statuses[0], _, _ = post(t, context.Background(), url, body, nil) })
	<-fake.started
	wg.Go(func() { statuses[1], _, _ = post(t, context.Background(), url, body, nil) })
	waitQueue(t, ts, "fake", 1)
	status, hdr, resp := post(t, t.Context(), url, body, nil)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(string(resp), "queue full") {
		t.Errorf("status %d Retry-After %q body %s, want 503 with Retry-After", status, hdr.Get("Retry-After"), resp)
	}
	close(fake.gate)
	wg.Wait()
	if statuses[0] != 200 || statuses[1] != 200 {
		t.Errorf("the running and the queued request got %v, want 200s", statuses)
	}
}

func TestRequestTimeoutIs504(t *testing.T) {
	fake := newFake()
	ts := startServer(t, Options{}, ModelVersion{Name: "fake", Version: 1, Instances: []Model{fake},
		Config: repository.Config{MaxBatchSize: 1, RequestTimeout: 30 * time.Millisecond}})
	body := []byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`)
	status, _, resp := post(t, t.Context(), ts.url+"/v2/models/fake/infer", body, nil)
	if status != http.StatusGatewayTimeout {
		t.Errorf("status %d body %s, want 504", status, resp)
	}
	if n := counterValue(t, ts.reg, "torchgate_inference_request_failure_total", map[string]string{"reason": "deadline"}); n != 1 {
		t.Errorf("%v deadline failures counted, want 1", n)
	}
}

func TestDisconnectedClientUsesNoCompute(t *testing.T) {
	fake := newFake()
	ts := startServer(t, Options{}, ModelVersion{Name: "fake", Version: 1, Instances: []Model{fake},
		Config: repository.Config{MaxBatchSize: 1}})
	url := ts.url + "/v2/models/fake/infer"
	body := []byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`)
	done := make(chan int)
	go func() { s, _, _ := post(t, context.Background(), url, body, nil); done <- s }()
	<-fake.started
	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan error)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
		_, err := http.DefaultClient.Do(req)
		gone <- err
	}()
	waitQueue(t, ts, "fake", 1)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Errorf("client: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, ts.reg, "torchgate_inference_request_failure_total", map[string]string{"reason": "cancelled"}) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled request was not counted")
		}
		time.Sleep(time.Millisecond)
	}
	close(fake.gate)
	if s := <-done; s != 200 {
		t.Errorf("the running request got %d", s)
	}
	waitQueue(t, ts, "fake", 0)
	if n := fake.runCount(); n != 1 {
		t.Errorf("%d model runs, want 1: the disconnected request used compute", n)
	}
}

func TestPriorityHeaderOrdersQueue(t *testing.T) {
	fake := newFake()
	ts := startServer(t, Options{}, ModelVersion{Name: "fake", Version: 1, Instances: []Model{fake},
		Config: repository.Config{MaxBatchSize: 1}})
	url := ts.url + "/v2/models/fake/infer"
	send := func(v float32, prio string) {
		body := []byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[` + strings.TrimRight(strings.TrimRight(jsonFloat(v), "0"), ".") + `,0]}]}`)
		if s, _, b := post(t, context.Background(), url, body, map[string]string{"x-torchgate-priority": prio, "x-torchgate-client-id": "c1"}); s != 200 {
			t.Errorf("status %d body %s", s, b)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { send(100, "0") })
	<-fake.started
	for i, prio := range []string{"1", "5", "3"} {
		wg.Go(func() { send(float32(i), prio) })
		waitQueue(t, ts, "fake", i+1)
	}
	close(fake.gate)
	var order []float32
	for range 3 {
		order = append(order, <-fake.started)
	}
	wg.Wait()
	if order[0] != 1 || order[1] != 2 || order[2] != 0 {
		t.Errorf("run order %v, want [1 2 0] (priorities 5, 3, 1)", order)
	}
	// Before a scrape promotes c1 its requests count as "other"; all four are there.
	if n := counterValue(t, ts.reg, "torchgate_inference_client_requests_total", map[string]string{"model": "fake"}); n != 4 {
		t.Errorf("%v client requests counted, want 4", n)
	}
}

// jsonFloat formats v for a JSON body.
func jsonFloat(v float32) string {
	b, _ := json.Marshal(v)
	return string(b) + ".0"
}

func TestUntrustedIdentity(t *testing.T) {
	nobody := []netip.Prefix{netip.MustParsePrefix("10.255.255.0/24")} // not loopback
	tests := []struct {
		name       string
		opts       Options
		header     map[string]string
		status     int
		wantClient string
	}{
		{name: "trusted peer", opts: Options{}, header: map[string]string{"X-Torchgate-Client-Id": "alice"}, status: 200, wantClient: "alice"},
		{name: "untrusted ignored", opts: Options{TrustedPeers: nobody}, header: map[string]string{"X-Torchgate-Client-Id": "alice"}, status: 200, wantClient: "anonymous"},
		{name: "untrusted rejected", opts: Options{TrustedPeers: nobody, RejectUntrusted: true}, header: map[string]string{"X-Torchgate-Priority": "9"}, status: 403},
		{name: "untrusted without headers", opts: Options{TrustedPeers: nobody, RejectUntrusted: true}, status: 200, wantClient: "anonymous"},
		{name: "bad priority", opts: Options{}, header: map[string]string{"X-Torchgate-Priority": "high"}, status: 400},
	}
	body := []byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.opts, ModelVersion{Name: "fake", Version: 1, Instances: []Model{&fakeModel{}}})
			status, _, resp := post(t, t.Context(), ts.url+"/v2/models/fake/infer", body, tc.header)
			if status != tc.status {
				t.Fatalf("status %d body %s, want %d", status, resp, tc.status)
			}
			if tc.wantClient != "" {
				// A client's series starts at the scrape after its first request
				// (clientmetrics): the second request is the one counted under its name.
				counterValue(t, ts.reg, "torchgate_inference_client_requests_total", nil)
				post(t, t.Context(), ts.url+"/v2/models/fake/infer", body, tc.header)
				if n := counterValue(t, ts.reg, "torchgate_inference_client_requests_total", map[string]string{"client_id": tc.wantClient}); n != 1 {
					t.Errorf("client %q counted %v times, want 1", tc.wantClient, n)
				}
			}
		})
	}
	t.Run("grpc rejected", func(t *testing.T) {
		ts := startServer(t, Options{TrustedPeers: nobody, RejectUntrusted: true}, ModelVersion{Name: "fake", Version: 1, Instances: []Model{&fakeModel{}}})
		ctx := metadata.AppendToOutgoingContext(t.Context(), "x-torchgate-client-id", "mallory")
		_, err := ts.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fake"})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("ModelInfer: %v, want PermissionDenied", err)
		}
	})
}

func TestCleanLabel(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "client-1", want: "client-1"},
		{name: "invalid UTF-8", in: "a\xffb", want: "a\uFFFDb"},
		{name: "too long", in: strings.Repeat("x", 200), want: strings.Repeat("x", maxClientIDLen)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanLabel(tc.in); got != tc.want {
				t.Errorf("cleanLabel(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestClientSeriesGoToTheBusiest(t *testing.T) {
	ts := startServer(t, Options{MaxClients: 1}, ModelVersion{Name: "fake", Version: 1, Instances: []Model{&fakeModel{}}})
	body := []byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`)
	infer := func(client string, n int) {
		for range n {
			if s, _, b := post(t, t.Context(), ts.url+"/v2/models/fake/infer", body, map[string]string{"x-torchgate-client-id": client}); s != 200 {
				t.Fatalf("status %d body %s", s, b)
			}
		}
	}
	count := func(client string) float64 {
		return counterValue(t, ts.reg, "torchgate_inference_client_requests_total", map[string]string{"client_id": client, "model": "fake"})
	}
	infer("light", 1)
	infer("heavy", 3)
	count("other") // the scrape promotes the busiest client into the one named series
	infer("heavy", 2)
	infer("light", 1)
	if got := []float64{count("heavy"), count("light"), count("other")}; !slices.Equal(got, []float64{2, 0, 5}) {
		t.Errorf("heavy, light, other = %v, want [2 0 5]", got)
	}
}
