package loadgen

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeAuthz answers Check by the request's path: "/deny" is denied, "/fail" is a gRPC error,
// "/hang" never answers, anything else is allowed. Its answers carry a padded body so that
// many calls exceed HTTP/2's initial flow-control windows.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
}

func (fakeAuthz) Check(ctx context.Context, r *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	switch r.GetAttributes().GetRequest().GetHttp().GetPath() {
	case "/deny":
		return &authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}, Body: strings.Repeat("x", 2000),
		}}}, nil
	case "/fail":
		return nil, status.Error(codes.Internal, "boom")
	case "/hang":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
		HeadersToRemove: []string{strings.Repeat("y", 2000)},
	}}}, nil
}

// startFake serves fakeAuthz on a loopback port; the server is stopped at cleanup or by the
// caller.
func startFake(t *testing.T) (string, *grpc.Server) {
	return serveGRPC(t, func(gs *grpc.Server) { authv3.RegisterAuthorizationServer(gs, fakeAuthz{}) })
}

// serveGRPC serves what register adds on a loopback port; the server is stopped at cleanup or
// by the caller.
func serveGRPC(t *testing.T, register func(*grpc.Server)) (string, *grpc.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	register(gs)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	return l.Addr().String(), gs
}

func encoded(t *testing.T, path string) encodedRequest {
	t.Helper()
	b, err := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Path: path, Body: strings.Repeat("z", 3000)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCallerRuns checks what a caller's runs tally, on both clients: answers are read right,
// through far more than the 64 KiB initial flow-control windows both ways (3 KB out, 2 KB
// back per call), and a connection stays usable over several runs.
func TestCallerRuns(t *testing.T) {
	addr, _ := startFake(t)
	allow, deny, fail := encoded(t, "/ok"), encoded(t, "/deny"), encoded(t, "/fail")
	o := Options{Conns: 1}
	for _, client := range []string{ClientH2, ClientGRPCGo} {
		t.Run(client, func(t *testing.T) {
			o.Client = client
			callers, err := dial(addr, checkRPC, o)
			if err != nil {
				t.Fatal(err)
			}
			defer callers[0].Close()
			c := callers[0]
			run := func(reqs []encodedRequest, slots int) tally {
				return c.run(reqs, 0, slots, time.Now().Add(300*time.Millisecond))
			}

			// One request in ten is denied: slots walk the list from their own offsets,
			// so a tenth of all answers must be denials.
			mixed := []encodedRequest{deny, allow, allow, allow, allow, allow, allow, allow, allow, allow}
			got := run(mixed, 10)
			if got.errors != 0 {
				t.Fatalf("%d errors, first %v", got.errors, got.err)
			}
			n := len(got.latencies)
			if n < 100 {
				t.Fatalf("only %d calls in 300ms", n)
			}
			// Each slot's last unanswered call is not counted, so up to one in ten slots' worth off.
			if lo, hi := (n-10)/10, (n+10)/10+1; got.denied < lo || got.denied > hi {
				t.Errorf("%d denials in %d answers, want about a tenth", got.denied, n)
			}

			got = run([]encodedRequest{fail}, 4)
			if len(got.latencies) == 0 || got.errors != len(got.latencies) || got.err == nil ||
				!strings.Contains(got.err.Error(), `grpc-status "13"`) && !strings.Contains(got.err.Error(), "boom") {
				t.Errorf("gRPC errors not reported: %d calls, %d errors, first %v", len(got.latencies), got.errors, got.err)
			}
			// The connection still works after failed calls.
			if got = run([]encodedRequest{allow}, 16); got.errors != 0 || got.denied != 0 || len(got.latencies) == 0 {
				t.Errorf("after failed calls: %d calls, %d errors (%v), %d denied", len(got.latencies), got.errors, got.err, got.denied)
			}
		})
	}
}

// A run on a connection whose server goes away ends with errors, at once, and so do later runs.
func TestH2RunFailsWhenTheServerGoes(t *testing.T) {
	addr, gs := startFake(t)
	c, err := dialH2(addr, checkRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hang := encoded(t, "/hang")
	go func() {
		time.Sleep(100 * time.Millisecond)
		gs.Stop()
	}()
	start := time.Now()
	got := c.run([]encodedRequest{hang}, 0, 4, start.Add(time.Minute))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("run took %v after the server went", took)
	}
	if got.errors != 4 || got.err == nil {
		t.Errorf("server gone: %d errors (%v), want the 4 calls in flight", got.errors, got.err)
	}
	if got = c.run([]encodedRequest{encoded(t, "/ok")}, 0, 1, time.Now().Add(time.Second)); got.errors == 0 {
		t.Error("run on a failed connection reported no error")
	}
}
