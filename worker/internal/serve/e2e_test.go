package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/torchgate/torchgate/worker/internal/engine"
	pb "github.com/torchgate/torchgate/worker/internal/inference/inferencepb"
	"github.com/torchgate/torchgate/worker/internal/repository"
)

// goldenCases are archives with a batch-4 golden input.
var goldenCases = []struct {
	name, input string
}{
	{name: "mlp", input: "x"},
	{name: "cnn", input: "x"},
}

// engineRun is the engine's own answer for x.
func engineRun(t testing.TB, model string, x engine.Tensor) engine.Tensor {
	t.Helper()
	out, err := loadArchive(t, model).Run(t.Context(), []engine.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestRESTInferMatchesEngine(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Options{}, ModelVersion{Name: tc.name, Version: 1, Instances: []Model{loadArchive(t, tc.name)}})
			x := readNPY(t, tc.name+"_b4_in0.npy")
			want := engineRun(t, tc.name, x)
			url := ts.url + "/v2/models/" + tc.name + "/infer"

			t.Run("json", func(t *testing.T) {
				status, _, body := post(t, t.Context(), url, inferBody(tc.input, x), nil)
				var resp struct {
					jsonResponse
					Outputs []struct {
						Name     string `json:"name"`
						Datatype string `json:"datatype"`
						Shape    []int  `json:"shape"`
						Data     any    `json:"data"`
					} `json:"outputs"`
				}
				if err := json.Unmarshal(body, &resp); err != nil || status != http.StatusOK {
					t.Fatalf("status %d, body %s", status, body)
				}
				o := resp.Outputs[0]
				if resp.ID != "req-1" || resp.ModelName != tc.name || resp.ModelVersion != "1" || o.Name != "OUTPUT__0" || o.Datatype != "FP32" {
					t.Errorf("response %+v", resp)
				}
				if got := floats(t, o.Data); !slices.Equal(o.Shape, want.Shape) || !slices.Equal(got, want.Float32) {
					t.Errorf("output %v %v, engine %v %v", o.Shape, got, want.Shape, want.Float32)
				}
			})

			t.Run("binary", func(t *testing.T) {
				raw := binary.LittleEndian.AppendUint32(nil, 0)[:0]
				for _, v := range x.Float32 {
					raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
				}
				head, _ := json.Marshal(map[string]any{
					"inputs":  []jsonTensor{{Name: "INPUT__0", Shape: x.Shape, Datatype: "FP32", Parameters: map[string]any{"binary_data_size": len(raw)}}},
					"outputs": []map[string]any{{"name": "OUTPUT__0", "parameters": map[string]any{"binary_data": true}}},
				})
				status, hdr, body := post(t, t.Context(), url, append(head, raw...), map[string]string{HeaderContentLength: strconv.Itoa(len(head))})
				if status != http.StatusOK {
					t.Fatalf("status %d, body %s", status, body)
				}
				n, err := strconv.Atoi(hdr.Get(HeaderContentLength))
				if err != nil || n > len(body) {
					t.Fatalf("%s %q for a %d-byte body", HeaderContentLength, hdr.Get(HeaderContentLength), len(body))
				}
				var resp jsonResponse
				if err := json.Unmarshal(body[:n], &resp); err != nil {
					t.Fatal(err)
				}
				rest := body[n:]
				if size := resp.Outputs[0].Parameters["binary_data_size"]; size != float64(len(rest)) {
					t.Errorf("binary_data_size %v, %d bytes follow", size, len(rest))
				}
				got := make([]float32, len(rest)/4)
				for i := range got {
					got[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
				}
				if !slices.Equal(got, want.Float32) {
					t.Errorf("binary output %v, engine %v", got, want.Float32)
				}
			})
		})
	}
}

func TestGRPCInferMatchesEngine(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Options{}, ModelVersion{Name: tc.name, Version: 3, Instances: []Model{loadArchive(t, tc.name)}})
			x := readNPY(t, tc.name+"_b4_in0.npy")
			want := engineRun(t, tc.name, x)
			shape := make([]int64, len(x.Shape))
			for i, d := range x.Shape {
				shape[i] = int64(d)
			}
			var raw []byte
			for _, v := range x.Float32 {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			requests := map[string]*pb.ModelInferRequest{
				"raw": {ModelName: tc.name, Id: "g1",
					Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: tc.input, Datatype: "FP32", Shape: shape}},
					RawInputContents: [][]byte{raw}},
				"typed contents": {ModelName: tc.name, ModelVersion: "3", Id: "g1",
					Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "INPUT__0", Datatype: "FP32", Shape: shape,
						Contents: &pb.InferTensorContents{Fp32Contents: x.Float32}}}},
			}
			for name, req := range requests {
				t.Run(name, func(t *testing.T) {
					resp, err := ts.grpc.ModelInfer(t.Context(), req)
					if err != nil {
						t.Fatal(err)
					}
					if resp.GetId() != "g1" || resp.GetModelVersion() != "3" || len(resp.GetRawOutputContents()) != 1 {
						t.Fatalf("response %v", resp)
					}
					rb := resp.GetRawOutputContents()[0]
					got := make([]float32, len(rb)/4)
					for i := range got {
						got[i] = math.Float32frombits(binary.LittleEndian.Uint32(rb[4*i:]))
					}
					if !slices.Equal(got, want.Float32) {
						t.Errorf("output %v, engine %v", got, want.Float32)
					}
				})
			}
		})
	}
}

func TestMetadataAndHealth(t *testing.T) {
	fake := &fakeModel{}
	ts := startServer(t, Options{},
		ModelVersion{Name: "fake", Version: 1, Instances: []Model{fake}},
		ModelVersion{Name: "fake", Version: 2, Instances: []Model{fake}})
	tests := []struct {
		name, path string
		status     int
		contains   string
	}{
		{name: "server metadata", path: "/v2", status: 200, contains: `"binary_tensor_data"`},
		{name: "live", path: "/v2/health/live", status: 200},
		{name: "ready", path: "/v2/health/ready", status: 200},
		{name: "model metadata", path: "/v2/models/fake", status: 200, contains: `"versions":["1","2"]`},
		{name: "version metadata", path: "/v2/models/fake/versions/1", status: 200, contains: `"inputs":[{"name":"x","datatype":"FP32","shape":[-1,2]}]`},
		{name: "model ready", path: "/v2/models/fake/ready", status: 200},
		{name: "unknown model", path: "/v2/models/nope", status: 404, contains: `"error"`},
		{name: "unknown version ready", path: "/v2/models/fake/versions/9/ready", status: 404},
		{name: "metrics", path: "/metrics", status: 200, contains: "torchgate_inference_queue_depth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(ts.url + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body) //nolint:errcheck // checked through the content
			if resp.StatusCode != tc.status || !bytes.Contains(buf.Bytes(), []byte(tc.contains)) {
				t.Errorf("status %d body %s, want %d containing %s", resp.StatusCode, buf.String(), tc.status, tc.contains)
			}
		})
	}
	t.Run("grpc", func(t *testing.T) {
		md, err := ts.grpc.ModelMetadata(t.Context(), &pb.ModelMetadataRequest{Name: "fake"})
		if err != nil || md.GetInputs()[0].GetName() != "x" || !slices.Equal(md.GetVersions(), []string{"1", "2"}) {
			t.Errorf("ModelMetadata: %v %v", md, err)
		}
		live, err := ts.grpc.ServerLive(t.Context(), &pb.ServerLiveRequest{})
		if err != nil || !live.GetLive() {
			t.Errorf("ServerLive: %v %v", live, err)
		}
		ready, err := ts.grpc.ModelReady(t.Context(), &pb.ModelReadyRequest{Name: "fake", Version: "2"})
		if err != nil || !ready.GetReady() {
			t.Errorf("ModelReady: %v %v", ready, err)
		}
		sm, err := ts.grpc.ServerMetadata(t.Context(), &pb.ServerMetadataRequest{})
		if err != nil || sm.GetName() != serverName {
			t.Errorf("ServerMetadata: %v %v", sm, err)
		}
	})
	t.Run("not ready", func(t *testing.T) {
		ts.srv.SetReady(false)
		defer ts.srv.SetReady(true)
		resp, err := http.Get(ts.url + "/v2/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r, err := ts.grpc.ServerReady(t.Context(), &pb.ServerReadyRequest{})
		if resp.StatusCode != http.StatusServiceUnavailable || err != nil || r.GetReady() {
			t.Errorf("REST %d, gRPC %v %v; want not ready", resp.StatusCode, r, err)
		}
	})
}

// TestBatchingUnderConcurrency sends 32 concurrent single-row requests to real archives.
// They queue in a known order (each client waits for the previous one to be queued) and
// form one batch. Every answer must equal, bit for bit, both its row of the engine's run of
// that same batch (no row mixed up or leaked) and the engine's answer to the request alone:
// the engine's results do not depend on the batch a row is computed in.
func TestBatchingUnderConcurrency(t *testing.T) {
	for _, model := range []string{"mlp", "cnn"} {
		t.Run(model, func(t *testing.T) {
			const clients = 32
			cfg := repository.Config{MaxBatchSize: clients, MaxQueueDelay: time.Minute}
			ts := startServer(t, Options{}, ModelVersion{Name: model, Version: 1, Config: cfg, Instances: []Model{loadArchive(t, model)}})
			x := readNPY(t, model+"_b4_in0.npy")
			ref := loadArchive(t, model)
			inputs := make([]engine.Tensor, clients)
			unbatched := make([]engine.Tensor, clients)
			all := engine.Tensor{Shape: slices.Clone(x.Shape)}
			all.Shape[0] = clients
			for i := range clients {
				in := row(x, i%4)
				for j := range in.Float32 {
					in.Float32[j] += float32(i) / 64
				}
				out, err := ref.Run(t.Context(), []engine.Tensor{in})
				if err != nil {
					t.Fatal(err)
				}
				inputs[i], unbatched[i] = in, out[0]
				all.Float32 = append(all.Float32, in.Float32...)
			}
			batchOut, err := ref.Run(t.Context(), []engine.Tensor{all})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]string, clients)
			for i := range clients {
				waitQueue(t, ts, model, i)
				wg.Go(func() {
					status, _, body := post(t, t.Context(), ts.url+"/v2/models/"+model+"/infer", inferBody("x", inputs[i]), nil)
					var resp struct {
						Outputs []struct {
							Data any `json:"data"`
						} `json:"outputs"`
					}
					if err := json.Unmarshal(body, &resp); err != nil || status != 200 {
						errs[i] = fmt.Sprintf("status %d body %s", status, body)
						return
					}
					got := floats(t, resp.Outputs[0].Data)
					want := row(batchOut[0], i)
					if len(got) != len(want.Float32) || len(got) != len(unbatched[i].Float32) {
						errs[i] = fmt.Sprintf("%d values, batch row %d, unbatched %d", len(got), len(want.Float32), len(unbatched[i].Float32))
						return
					}
					for j, v := range got {
						u := unbatched[i].Float32[j]
						if math.Float32bits(v) != math.Float32bits(want.Float32[j]) || math.Float32bits(v) != math.Float32bits(u) {
							errs[i] = fmt.Sprintf("element %d: %v, batch row %v, unbatched %v", j, v, want.Float32[j], u)
							return
						}
					}
				})
			}
			wg.Wait()
			for i, e := range errs {
				if e != "" {
					t.Errorf("client %d: %s", i, e)
				}
			}
			labels := map[string]string{"model": model}
			items := counterValue(t, ts.reg, "torchgate_inference_count_total", labels)
			execs := counterValue(t, ts.reg, "torchgate_inference_exec_count_total", labels)
			if items != clients || execs == 0 || items/execs <= 1 {
				t.Errorf("%v items in %v executions: mean batch size not above 1", items, execs)
			}
		})
	}
}

// TestMetadataFromArchive checks what metadata says of an archive without config.yaml:
// before the first run the MLP's rank is unknown and its outputs too; after it, both.
func TestMetadataFromArchive(t *testing.T) {
	ts := startServer(t, Options{}, ModelVersion{Name: "mlp", Version: 1, Instances: []Model{loadArchive(t, "mlp")}})
	get := func() string {
		resp, err := http.Get(ts.url + "/v2/models/mlp")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body) //nolint:errcheck // checked through the content
		return buf.String()
	}
	before := `{"inputs":[{"name":"x","datatype":"FP32","shape":[-1]}],"name":"mlp","outputs":[],"platform":"pytorch_torchscript","versions":["1"]}`
	if got := get(); got != before {
		t.Errorf("metadata before a run:\n%s\nwant\n%s", got, before)
	}
	if status, _, body := post(t, t.Context(), ts.url+"/v2/models/mlp/infer", inferBody("x", readNPY(t, "mlp_b1_in0.npy")), nil); status != 200 {
		t.Fatalf("status %d body %s", status, body)
	}
	after := `{"inputs":[{"name":"x","datatype":"FP32","shape":[-1,16]}],"name":"mlp","outputs":[{"name":"OUTPUT__0","datatype":"FP32","shape":[-1,8]}],"platform":"pytorch_torchscript","versions":["1"]}`
	if got := get(); got != after {
		t.Errorf("metadata after a run:\n%s\nwant\n%s", got, after)
	}
}
