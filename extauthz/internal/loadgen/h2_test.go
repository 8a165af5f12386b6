package loadgen

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeAuthz answers Check by the request's path: "/deny" is denied, "/fail" is a gRPC error,
// anything else allowed. Its answers carry a padded body so that many calls exceed HTTP/2's
// initial flow-control windows.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
}

func (fakeAuthz) Check(_ context.Context, r *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	switch r.GetAttributes().GetRequest().GetHttp().GetPath() {
	case "/deny":
		return &authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}, Body: strings.Repeat("x", 2000),
		}}}, nil
	case "/fail":
		return nil, status.Error(codes.Internal, "boom")
	}
	return &authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
		HeadersToRemove: []string{strings.Repeat("y", 2000)},
	}}}, nil
}

// startFake serves fakeAuthz on a loopback port; the server is stopped at cleanup or by the
// caller.
func startFake(t *testing.T) (string, *grpc.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, fakeAuthz{})
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

func TestH2ConnSpeaksGRPC(t *testing.T) {
	addr, _ := startFake(t)
	c, err := dialH2(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	allow, deny, fail := encoded(t, "/ok"), encoded(t, "/deny"), encoded(t, "/fail")

	// 16 concurrent loops, 3 KB out and 2 KB back per call, several MB in all: far past the
	// 64 KiB initial windows both ways, so flow control must work in both directions.
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := range 100 {
				if denied, err := c.check(allow); err != nil || denied {
					errs <- "allowed request: " + errString(err, denied)
					return
				}
				if (w+i)%10 == 0 {
					if denied, err := c.check(deny); err != nil || !denied {
						errs <- "denied request: " + errString(err, denied)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if _, err := c.check(fail); err == nil || !strings.Contains(err.Error(), `grpc-status "13"`) {
		t.Errorf("gRPC error not reported: %v", err)
	}
	// The connection still works after a failed call.
	if denied, err := c.check(allow); err != nil || denied {
		t.Errorf("after a failed call: %s", errString(err, denied))
	}
}

func TestH2ConnFailsCallsWhenTheServerGoes(t *testing.T) {
	addr, gs := startFake(t)
	c, err := dialH2(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.check(encoded(t, "/ok")); err != nil {
		t.Fatal(err)
	}
	gs.Stop()
	if _, err := c.check(encoded(t, "/ok")); err == nil {
		t.Error("call on a closed connection succeeded")
	}
}

func errString(err error, denied bool) string {
	if err != nil {
		return err.Error()
	}
	if denied {
		return "denied"
	}
	return "allowed"
}
