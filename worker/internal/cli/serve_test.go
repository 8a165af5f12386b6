package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/torchgate/torchgate/worker/internal/inference/inferencepb"
)

// testRepo makes a repository with testdata's mlp as model "mlp" version 1 and the given
// config.yaml ("" for none).
func testRepo(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	vdir := filepath.Join(dir, "mlp", "1")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "torch113", "mlp.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(vdir, "model.pt")); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "mlp", "config.yaml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestServeFlagErrors(t *testing.T) {
	repo := testRepo(t, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "cuda on the CPU build", args: []string{"--model-repository", repo, "--device", "cuda"}, want: "use the GPU build (worker/cuda/cmd/worker)"},
		{name: "unknown device", args: []string{"--model-repository", repo, "--device", "tpu"}, want: "not auto, cpu or cuda"},
		{name: "no repository", args: nil, want: "--model-repository is required"},
		{name: "bad trusted peers", args: []string{"--model-repository", repo, "--trusted-peers", "10.0.0.0/33"}, want: "--trusted-peers"},
		{name: "bad untrusted mode", args: []string{"--model-repository", repo, "--untrusted-identity", "maybe"}, want: "ignore or reject"},
		{name: "key without certificate", args: []string{"--model-repository", repo, "--tls-key", "k.pem"}, want: "go together"},
		{name: "client CA without TLS", args: []string{"--model-repository", repo, "--client-ca", "ca.pem"}, want: "needs --tls-cert"},
		{name: "trusted names without client CA", args: []string{"--model-repository", repo, "--trusted-client-names", "envoy"}, want: "needs --client-ca"},
		{name: "missing certificate file", args: []string{"--model-repository", repo, "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, want: "no such file"},
		{name: "bad config", args: []string{"--model-repository", testRepo(t, "max_batch_size: 4\nbogus: 1\n")}, want: "field bogus not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runServe(t.Context(), tc.args, nil, slog.New(slog.DiscardHandler), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runServe: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestServeSIGTERMAnswersInFlight queues requests behind a long max_queue_delay, sends the
// process SIGTERM, and checks that every request is answered and serve returns cleanly.
func TestServeSIGTERMAnswersInFlight(t *testing.T) {
	repo := testRepo(t, "max_batch_size: 64\nmax_queue_delay: 1m\n")
	ctx, stop := signal.NotifyContext(t.Context(), syscall.SIGTERM)
	defer stop()
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--model-repository", repo, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"},
			nil, slog.New(slog.DiscardHandler), func(h, g net.Addr) { addrs <- [2]net.Addr{h, g} })
	}()
	var a [2]net.Addr
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("runServe: %v", err)
	}
	base := "http://" + a[0].String()
	conn, err := grpc.NewClient(a[1].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	live, err := pb.NewGRPCInferenceServiceClient(conn).ServerLive(t.Context(), &pb.ServerLiveRequest{})
	if err != nil || !live.GetLive() {
		t.Fatalf("ServerLive: %v %v", live, err)
	}
	const inFlight = 8
	body := []byte(`{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","data":[` + strings.Repeat("0.25,", 15) + `0.25]}]}`)
	var wg sync.WaitGroup
	statuses := make([]int, inFlight)
	for i := range inFlight {
		wg.Go(func() {
			resp, err := http.Post(base+"/v2/models/mlp/infer", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // status is what counts
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(metrics(t, base), `torchgate_inference_queue_depth{model="mlp",version="1"} 8`) {
		if time.Now().After(deadline) {
			t.Fatalf("requests did not queue:\n%s", metrics(t, base))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runServe: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("in-flight request %d: status %d, want 200", i, s)
		}
	}
	if _, err := http.Get(base + "/v2/health/live"); err == nil {
		t.Errorf("the HTTP listener still accepts after shutdown")
	}
}

// metrics returns the /metrics text.
func metrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	return string(b)
}
