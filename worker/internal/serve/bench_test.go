package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torchgate/torchgate/worker/internal/engine"
	pb "github.com/torchgate/torchgate/worker/internal/inference/inferencepb"
	"github.com/torchgate/torchgate/worker/internal/repository"
)

// benchModel is a model the load benchmarks drive with its batch-1 golden input.
type benchModel struct {
	name, path, input string
}

// benchModels are the MLP, the small CNN and, when generated, ResNet-18.
var benchModels = []benchModel{
	{name: "mlp", path: filepath.Join(archiveDir, "mlp"), input: filepath.Join(archiveDir, "mlp_b1_in0.npy")},
	{name: "cnn", path: filepath.Join(archiveDir, "cnn"), input: filepath.Join(archiveDir, "cnn_b1_in0.npy")},
	{name: "resnet18", path: filepath.Join("..", "..", "testdata", "gen", "torch113", "resnet18"),
		input: filepath.Join("..", "..", "testdata", "gen", "torch113", "resnet18_b1_in0.npy")},
}

// benchClient sends one inference request and fails on any error.
type benchClient func(b *testing.B)

// newBenchClient returns a client of the given protocol for x on model.
func newBenchClient(b *testing.B, ts *testServer, proto, model string, x engine.Tensor) benchClient {
	url := ts.url + "/v2/models/" + model + "/infer"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var raw []byte
	for _, v := range x.Float32 {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	do := func(b *testing.B, body []byte, hdr string) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if hdr != "" {
			req.Header.Set(HeaderContentLength, hdr)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // status checked
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d", resp.StatusCode)
		}
	}
	switch proto {
	case "rest-json":
		body := inferBody("x", x)
		return func(b *testing.B) { do(b, body, "") }
	case "rest-binary":
		head, _ := json.Marshal(map[string]any{
			"inputs":     []jsonTensor{{Name: "INPUT__0", Shape: x.Shape, Datatype: "FP32", Parameters: map[string]any{"binary_data_size": len(raw)}}},
			"parameters": map[string]any{"binary_data_output": true},
		})
		body, hdr := append(slices.Clone(head), raw...), strconv.Itoa(len(head))
		return func(b *testing.B) { do(b, body, hdr) }
	default:
		shape := make([]int64, len(x.Shape))
		for i, d := range x.Shape {
			shape[i] = int64(d)
		}
		req := &pb.ModelInferRequest{ModelName: model,
			Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "INPUT__0", Datatype: "FP32", Shape: shape}},
			RawInputContents: [][]byte{raw}}
		return func(b *testing.B) {
			if _, err := ts.grpc.ModelInfer(b.Context(), req); err != nil {
				b.Error(err)
			}
		}
	}
}

// runLoad sends b.N requests from conc concurrent clients and reports throughput, the
// latency percentiles and the process's CPU time per request (clients included).
func runLoad(b *testing.B, conc int, send benchClient) {
	send(b) // warm: builds the engine's program for this shape
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPUSeconds()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				send(b)
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	reportLatency(b, lat, elapsed)
	b.ReportMetric((processCPUSeconds()-cpu0)/float64(b.N)*1e3, "cpu-ms/req")
}

// reportLatency reports req/s, p50 and p99.
func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(lat[len(lat)/2].Seconds()*1e6, "p50-µs")
	b.ReportMetric(lat[min(len(lat)-1, len(lat)*99/100)].Seconds()*1e6, "p99-µs")
	b.ReportMetric(0, "ns/op")
}

// startBench serves model with cfg (cfg.Instances copies, each with threads kernel
// threads; 0: all CPUs); it skips when the archive is not generated.
func startBench(b *testing.B, m benchModel, cfg repository.Config, threads int) (*testServer, engine.Tensor) {
	if _, err := os.Stat(m.path + ".pt"); err != nil {
		b.Skipf("%s.pt not generated", m.path)
	}
	x, err := engine.ReadNPY(m.input)
	if err != nil {
		b.Fatal(err)
	}
	var instances []Model
	for range cfg.WithDefaults().Instances {
		em, err := engine.Load(m.path+".pt", engine.Options{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { em.Close() })
		// Prepare the engine's program for every batch size the batcher runs (powers of
		// two up to the maximum), so the benchmark measures the steady state.
		for n := 1; n <= cfg.WithDefaults().MaxBatchSize; n *= 2 {
			if _, err := em.Run(b.Context(), []engine.Tensor{repeatRows(x, n)}); err != nil {
				b.Fatal(err)
			}
		}
		instances = append(instances, em)
	}
	return startServer(b, Options{}, ModelVersion{Name: m.name, Version: 1, Config: cfg, Instances: instances}), x
}

// repeatRows returns a batch of n copies of a batch-1 tensor.
func repeatRows(x engine.Tensor, n int) engine.Tensor {
	t := engine.Tensor{Shape: slices.Clone(x.Shape)}
	t.Shape[0] = n
	for range n {
		t.Float32 = append(t.Float32, x.Float32...)
	}
	return t
}

// BenchmarkServe drives each model through each protocol at concurrency 1, 8 and 32 with
// the default config (dynamic batching up to 8, no queue delay).
func BenchmarkServe(b *testing.B) {
	for _, m := range benchModels {
		for _, proto := range []string{"rest-json", "rest-binary", "grpc"} {
			for _, conc := range []int{1, 8, 32} {
				b.Run(m.name+"/"+proto+"/c"+strconv.Itoa(conc), func(b *testing.B) {
					ts, x := startBench(b, m, repository.Config{}, 0)
					runLoad(b, conc, newBenchClient(b, ts, proto, m.name, x))
				})
			}
		}
	}
}

// BenchmarkBatching compares dynamic batching with batch-1 serving at concurrency 32 over
// gRPC, each with one instance using every CPU and with one single-threaded instance per
// CPU.
func BenchmarkBatching(b *testing.B) {
	cpus := runtime.NumCPU()
	for _, m := range benchModels[1:] {
		for _, mode := range []struct {
			name    string
			cfg     repository.Config
			threads int
		}{
			{name: "batch1", cfg: repository.Config{MaxBatchSize: 1}},
			{name: "batch1/" + strconv.Itoa(cpus) + "x1thread", cfg: repository.Config{MaxBatchSize: 1, Instances: cpus}, threads: 1},
			{name: "dynamic8", cfg: repository.Config{MaxBatchSize: 8}},
			{name: "dynamic8/" + strconv.Itoa(cpus) + "x1thread", cfg: repository.Config{MaxBatchSize: 8, Instances: cpus}, threads: 1},
			{name: "dynamic32", cfg: repository.Config{MaxBatchSize: 32}},
		} {
			b.Run(m.name+"/"+mode.name, func(b *testing.B) {
				ts, x := startBench(b, m, mode.cfg, mode.threads)
				runLoad(b, 32, newBenchClient(b, ts, "grpc", m.name, x))
				items := counterValue(b, ts.reg, "torchgate_inference_count_total", nil)
				execs := counterValue(b, ts.reg, "torchgate_inference_exec_count_total", nil)
				b.ReportMetric(items/execs, "items/batch")
			})
		}
	}
}

// BenchmarkOverhead measures the MLP's own engine time at batch 1 and the same request
// through the server at concurrency 1: the serving overhead is the difference of the p50s.
func BenchmarkOverhead(b *testing.B) {
	m := benchModels[0]
	b.Run("engine", func(b *testing.B) {
		x := readNPY(b, "mlp_b1_in0.npy")
		em, err := engine.Load(m.path+".pt", engine.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer em.Close()
		runLoad(b, 1, func(b *testing.B) {
			if _, err := em.Run(b.Context(), []engine.Tensor{x}); err != nil {
				b.Error(err)
			}
		})
	})
	for _, proto := range []string{"grpc", "rest-binary", "rest-json"} {
		b.Run(proto, func(b *testing.B) {
			ts, x := startBench(b, m, repository.Config{}, 0)
			runLoad(b, 1, newBenchClient(b, ts, proto, m.name, x))
		})
	}
}

// BenchmarkInstances compares one model instance using every CPU with one instance per
// CPU using one thread each, batch-1 serving at concurrency 32 over gRPC.
func BenchmarkInstances(b *testing.B) {
	for _, m := range benchModels[1:] {
		for _, mode := range []struct {
			name      string
			instances int
			threads   int
		}{
			{name: "1x" + strconv.Itoa(runtime.NumCPU()) + "threads", instances: 1},
			{name: strconv.Itoa(runtime.NumCPU()) + "x1thread", instances: runtime.NumCPU(), threads: 1},
		} {
			b.Run(m.name+"/"+mode.name, func(b *testing.B) {
				ts, x := startBench(b, m, repository.Config{MaxBatchSize: 1, Instances: mode.instances}, mode.threads)
				runLoad(b, 32, newBenchClient(b, ts, "grpc", m.name, x))
			})
		}
	}
}
