package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// authzFilter is the ext_authz filter: one Check per request over gRPC, headers only.
type authzFilter struct {
	name          string // the filter's name: key of per-route config and metadata namespace
	client        authv3.AuthorizationClient
	conn          *grpc.ClientConn
	timeout       time.Duration
	failureAllow  bool
	statusOnError int
	logger        *slog.Logger
}

func newAuthz(name string, cfg *extauthzv3.ExtAuthz, c *cluster, logger *slog.Logger) (*authzFilter, error) {
	addrs := make([]resolver.Address, len(c.endpoints))
	for i, ep := range c.endpoints {
		addrs[i] = resolver.Address{Addr: ep.addr}
	}
	r := manual.NewBuilderWithScheme("edge")
	r.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient(r.Scheme()+":///"+c.name,
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
	)
	if err != nil {
		return nil, fmt.Errorf("edge: ext_authz client: %w", err)
	}
	f := &authzFilter{
		name: name, conn: conn, client: authv3.NewAuthorizationClient(conn),
		timeout:       200 * time.Millisecond, // Envoy's default grpc_service timeout for ext_authz
		failureAllow:  cfg.GetFailureModeAllow(),
		statusOnError: http.StatusForbidden, // Envoy's default status_on_error
		logger:        logger,
	}
	if t := cfg.GetGrpcService().GetTimeout(); t != nil {
		f.timeout = t.AsDuration()
	}
	if s := cfg.GetStatusOnError(); s != nil {
		f.statusOnError = int(s.GetCode())
	}
	return f, nil
}

func (f *authzFilter) decode(x *exchange) bool {
	var ext map[string]string
	if x.route != nil {
		if pr, ok := x.route.perFilter[f.name].(*extauthzv3.ExtAuthzPerRoute); ok {
			if pr.GetDisabled() {
				return true
			}
			ext = pr.GetCheckSettings().GetContextExtensions()
		}
	}
	ctx, cancel := context.WithTimeout(x.r.Context(), f.timeout)
	defer cancel()
	resp, err := f.client.Check(ctx, f.checkRequest(x, ext))
	if err != nil {
		f.logger.Warn("ext_authz check failed", "request_id", x.requestID, "err", err)
		if f.failureAllow {
			return true
		}
		x.reply(f.statusOnError, nil, "", "UAEX")
		return false
	}
	if md := resp.GetDynamicMetadata(); md != nil {
		x.metadata[f.name] = md
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		d := resp.GetDeniedResponse()
		status := int(d.GetStatus().GetCode())
		if status == 0 {
			status = http.StatusForbidden
		}
		x.reply(status, d.GetHeaders(), d.GetBody(), "UAEX")
		return false
	}
	ok := resp.GetOkResponse()
	applyHeaders(x.r.Header, ok.GetHeaders())
	for _, h := range ok.GetHeadersToRemove() {
		removeHeader(x.r.Header, h)
	}
	applyQuery(x, ok.GetQueryParametersToSet(), ok.GetQueryParametersToRemove())
	x.responseHeaders = append(x.responseHeaders, ok.GetResponseHeadersToAdd()...)
	return true
}

// checkRequest builds the CheckRequest Envoy sends: peer addresses, request time, and the HTTP
// request with lower-cased headers (repeated values joined by ","), pseudo-headers included.
func (f *authzFilter) checkRequest(x *exchange, ext map[string]string) *authv3.CheckRequest {
	r := x.r
	headers := make(map[string]string, len(r.Header)+4)
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	headers[":authority"] = r.Host
	headers[":method"] = r.Method
	headers[":path"] = x.path
	headers[":scheme"] = "http"
	size := r.ContentLength
	if size < 0 {
		size = -1
	}
	var dst string
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		dst = a.String()
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: peerAddress(r.RemoteAddr)},
		Destination: &authv3.AttributeContext_Peer{Address: peerAddress(dst)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(x.start),
			Http: &authv3.AttributeContext_HttpRequest{
				Id: x.requestID, Method: r.Method, Headers: headers, Path: x.path, Host: r.Host,
				Scheme: "http", Size: size, Protocol: r.Proto,
			},
		},
		ContextExtensions: ext,
	}}
}

func peerAddress(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	p, _ := strconv.ParseUint(port, 10, 32)
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}

// applyQuery applies the OkHttpResponse query parameter mutations to the upstream request.
func applyQuery(x *exchange, set []*corev3.QueryParameter, remove []string) {
	if len(set) == 0 && len(remove) == 0 {
		return
	}
	q := x.r.URL.Query()
	for _, k := range remove {
		q.Del(k)
	}
	for _, p := range set {
		q.Set(p.GetKey(), p.GetValue())
	}
	x.r.URL.RawQuery = q.Encode()
	x.path = x.r.URL.EscapedPath()
	if x.r.URL.RawQuery != "" {
		x.path += "?" + x.r.URL.RawQuery
	}
}
