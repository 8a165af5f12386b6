package authz

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// The wire-level parser and encoder are checked against the generated protobuf messages:
// oracleRequest reads a decoded CheckRequest the way the decision expects, and oracleResponse
// builds the CheckResponse a decision must produce. Both are independent of the wire code.

// oracleRequest extracts the request attributes from a decoded CheckRequest.
func oracleRequest(cr *authv3.CheckRequest) request {
	attrs := cr.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	r := request{method: h.GetMethod(), path: h.GetPath()}
	if i := strings.IndexAny(r.path, "?#"); i >= 0 {
		r.path = r.path[:i]
	}
	if sa := attrs.GetSource().GetAddress().GetSocketAddress(); sa != nil {
		r.source = sa.GetAddress()
	}
	for k, v := range attrs.GetContextExtensions() {
		r.context.Set([]byte(k), []byte(v))
	}
	add := func(name string, value []byte) {
		name = oracleLower(name)
		switch {
		case name == "authorization":
			r.authorization = append(r.authorization, value)
		case name == "x-request-id":
			r.requestID = string(value)
		case strings.HasPrefix(name, IdentityHeaderPrefix):
			r.identityHeaders = append(r.identityHeaders, name)
		}
	}
	if hm := h.GetHeaderMap(); len(hm.GetHeaders()) > 0 {
		for _, hv := range hm.GetHeaders() {
			v := hv.GetRawValue()
			if v == nil {
				v = []byte(hv.GetValue())
			}
			add(hv.GetKey(), v)
		}
		return r
	}
	for k, v := range h.GetHeaders() {
		if oracleLower(k) == "authorization" {
			for part := range strings.SplitSeq(v, ",") {
				r.authorization = append(r.authorization, []byte(part))
			}
			continue
		}
		add(k, []byte(v))
	}
	return r
}

func oracleLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// sameRequest compares two requests; the order of headers from a protobuf map is not defined,
// so identity header names and (for map input) authorization values are compared as sets.
func sameRequest(a, b request) bool {
	sorted := func(r request) request {
		r.identityHeaders = slices.Sorted(slices.Values(r.identityHeaders))
		auth := make([]string, len(r.authorization))
		for i, v := range r.authorization {
			auth[i] = string(v)
		}
		slices.Sort(auth)
		r.authorization = nil
		for _, v := range auth {
			r.authorization = append(r.authorization, []byte(v))
		}
		return r
	}
	a, b = sorted(a), sorted(b)
	return a.method == b.method && a.path == b.path && a.requestID == b.requestID && a.source == b.source &&
		a.context == b.context && slices.Equal(a.identityHeaders, b.identityHeaders) &&
		slices.EqualFunc(a.authorization, b.authorization, func(x, y []byte) bool { return string(x) == string(y) })
}

// wireRequest parses cr the way the gRPC codec does.
func wireRequest(t testing.TB, cr *authv3.CheckRequest) request {
	t.Helper()
	b, err := proto.Marshal(cr)
	if err != nil {
		t.Fatal(err)
	}
	var r request
	if err := parseCheckRequest(b, &r); err != nil {
		t.Fatalf("parseCheckRequest: %v", err)
	}
	return r
}

// checkProto runs a decoded CheckRequest through the service as the gRPC handler does and
// decodes the answer.
func checkProto(t testing.TB, s *Service, cr *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	r := wireRequest(t, cr)
	resp := new(authv3.CheckResponse)
	if err := proto.Unmarshal(s.check(context.Background(), &r), resp); err != nil {
		t.Fatalf("response is not a CheckResponse: %v", err)
	}
	return resp
}

func socketSource(addr string) *authv3.AttributeContext_Peer {
	return &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
		SocketAddress: &corev3.SocketAddress{Address: addr, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 5000}},
	}}}
}

// wireCases are CheckRequests the parser must read as the oracle does; FuzzParseCheckRequest is
// seeded with them and with their pairwise concatenations (which protobuf merges).
var wireCases = []struct {
	name string
	cr   *authv3.CheckRequest
}{
	{"empty", &authv3.CheckRequest{}},
	{"headers map", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: socketSource("10.0.0.7"),
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: "POST", Path: "/v2/models/mlp/infer?debug=1", Host: "api", Scheme: "https", Size: 42,
			Headers: map[string]string{
				"authorization": "Bearer a.b.c", "x-request-id": "r1", "X-Torchgate-Tier": "gold",
				"content-type": "application/json", "x-torchgate-client-id": "forged",
			},
		}},
		ContextExtensions: map[string]string{"scope": "infer:mlp infer:all", "model": "mlp", "cost": "2", "tenant": "t"},
	}}},
	{"raw header_map with bytes that are not UTF-8", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/v2/models#frag",
			HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
				{Key: "authorization", RawValue: []byte("Bearer a.b.c")},
				{Key: "Authorization", RawValue: []byte("Bearer \xff\xfe.b.c")},
				{Key: "x-request-id", Value: "from value"},
				{Key: "x-torchgate-subject", RawValue: []byte("x")},
				{Key: ":path", RawValue: []byte("/v2/models")},
			}},
			Headers: map[string]string{"authorization": "ignored when header_map has entries"},
		}},
	}}},
	{"joined authorization in the map", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "PURGE", Headers: map[string]string{"authorization": "Bearer a.b.c,Bearer d.e.f", "Authorization": "Basic x"},
		}},
	}}},
	{"pipe source has no address", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/run/sock"}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "x-unrelated", Value: "v"}}},
		}},
	}}},
}

func TestParseCheckRequestMatchesProto(t *testing.T) {
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			got, want := wireRequest(t, tc.cr), oracleRequest(tc.cr)
			if !sameRequest(got, want) {
				t.Errorf("parsed %+v\nwant   %+v", got, want)
			}
		})
	}
}

func TestParseCheckRequestMerges(t *testing.T) {
	// Two serialized messages, concatenated, are one message with the two merged.
	first, _ := proto.Marshal(wireCases[1].cr)
	second, _ := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/p"}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Path: "/second", Headers: map[string]string{"authorization": "Bearer d.e.f", "x-torchgate-scopes": "x"},
		}},
		ContextExtensions: map[string]string{"cost": "3"},
	}})
	b := append(first, second...)
	var got request
	if err := parseCheckRequest(b, &got); err != nil {
		t.Fatal(err)
	}
	merged := new(authv3.CheckRequest)
	if err := proto.Unmarshal(b, merged); err != nil {
		t.Fatal(err)
	}
	want := oracleRequest(merged)
	if !sameRequest(got, want) {
		t.Errorf("parsed %+v\nwant   %+v", got, want)
	}
	if got.path != "/second" || got.source != "" || got.context.Cost != "3" || got.context.Scope != "infer:mlp infer:all" {
		t.Errorf("merge rules not applied: %+v", got)
	}
}

func TestParseCheckRequestRejects(t *testing.T) {
	valid, _ := proto.Marshal(wireCases[1].cr)
	badUTF8, _ := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Path: "/ok"}},
	}})
	badUTF8 = append(badUTF8[:len(badUTF8)-1], 0xff) // last byte of the path
	tooMany := &authv3.AttributeContext_HttpRequest{HeaderMap: &corev3.HeaderMap{}}
	for i := range maxRelevantHeaders + 1 {
		tooMany.HeaderMap.Headers = append(tooMany.HeaderMap.Headers, &corev3.HeaderValue{Key: "x-torchgate-" + strconv.Itoa(i)})
	}
	many, _ := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: tooMany}}})
	for name, b := range map[string][]byte{
		"truncated":                valid[:len(valid)-3],
		"length past the end":      {0x0a, 0x7f, 0x01},
		"field number zero":        {0x02, 0x00},
		"path not UTF-8":           badUTF8,
		"too many identity header": many,
	} {
		t.Run(name, func(t *testing.T) {
			var r request
			if err := parseCheckRequest(b, &r); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// FuzzParseCheckRequest: whatever protobuf accepts as a CheckRequest, the parser reads exactly
// as the oracle does; whatever it rejects, the parser may refuse or read, but never panics.
func FuzzParseCheckRequest(f *testing.F) {
	var seeds [][]byte
	for _, tc := range wireCases {
		b, _ := proto.Marshal(tc.cr)
		seeds = append(seeds, b)
	}
	for _, a := range seeds {
		f.Add(a)
		for _, b := range seeds {
			f.Add(append(slices.Clone(a), b...))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got request
		err := parseCheckRequest(b, &got)
		cr := new(authv3.CheckRequest)
		if proto.Unmarshal(b, cr) != nil {
			return
		}
		if err != nil {
			if n := len(cr.GetAttributes().GetRequest().GetHttp().GetHeaderMap().GetHeaders()) + len(cr.GetAttributes().GetRequest().GetHttp().GetHeaders()); n > maxRelevantHeaders {
				return // refused for holding too many headers
			}
			t.Fatalf("protobuf accepts what parseCheckRequest refuses: %v", err)
		}
		if want := oracleRequest(cr); !sameRequest(got, want) {
			t.Fatalf("parsed %+v\nwant   %+v", got, want)
		}
	})
}

// oracleResponse builds the CheckResponse a decision must produce, with the generated types.
func oracleResponse(d Decision, r request, keepAuthorization bool) *authv3.CheckResponse {
	overwrite := func(key, value string) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: key, Value: value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}
	}
	var limit []*corev3.HeaderValueOption
	if d.Limit != nil && len(d.Limit.Policies) > 0 {
		pol, state := d.Limit.Headers()
		limit = []*corev3.HeaderValueOption{overwrite("ratelimit-policy", pol), overwrite("ratelimit", state)}
	}
	if !d.Allowed {
		headers := []*corev3.HeaderValueOption{overwrite("content-type", "application/json"), overwrite("cache-control", "no-store")}
		if ch := d.wwwAuthenticate(); ch != "" {
			headers = append(headers, overwrite("www-authenticate", ch))
		}
		if d.RetryAfter > 0 {
			headers = append(headers, overwrite("retry-after", retryAfterSeconds(d.RetryAfter)))
		}
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(grpcCode(d.Status)), Message: d.Reason},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
				Headers: append(headers, limit...),
				Body:    errorBody(&d),
			}},
		}
	}
	c := d.Claims
	values := map[string]string{HeaderClientID: c.ClientID, HeaderSubject: c.Subject, HeaderScopes: strings.Join(c.Scopes, " ")}
	if d.Tier != nil {
		values[HeaderTier], values[HeaderPriority] = d.Tier.Name, strconv.Itoa(d.Tier.Priority)
	}
	var set []*corev3.HeaderValueOption
	for _, name := range []string{HeaderClientID, HeaderSubject, HeaderScopes, HeaderTier, HeaderPriority} {
		if v := values[name]; v != "" {
			set = append(set, overwrite(name, v))
		}
	}
	var remove []string
	if !keepAuthorization {
		remove = append(remove, "authorization")
	}
	for _, name := range r.identityHeaders {
		if values[name] == "" {
			remove = append(remove, name)
		}
	}
	meta := map[string]*structpb.Value{
		"client_id": structpb.NewStringValue(c.ClientID),
		"subject":   structpb.NewStringValue(c.Subject),
		"issuer":    structpb.NewStringValue(c.Issuer),
	}
	if d.Need.Model != "" {
		meta["model"] = structpb.NewStringValue(d.Need.Model)
	}
	if c.JTI != "" {
		meta["jti_hash"] = structpb.NewStringValue(string(jtiHash(nil, c.JTI)))
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: set, HeadersToRemove: remove, ResponseHeadersToAdd: limit,
		}},
		DynamicMetadata: &structpb.Struct{Fields: meta},
	}
}

func TestAppendResponseMatchesProto(t *testing.T) {
	claims := &token.Claims{Issuer: "https://idp", Subject: "svc", ClientID: "svc", JTI: "j-1",
		Scopes: []string{"infer:mlp", "infer:all"}, ScopeText: "infer:mlp infer:all"}
	noSubject := *claims
	noSubject.Subject, noSubject.JTI = "", ""
	tier := &ratelimit.Tier{Name: "pro", Rate: 10, Burst: 20, Priority: 10, Quotas: []ratelimit.Quota{{Window: ratelimit.Day, Limit: 100}}}
	limited := &ratelimit.Result{Allowed: false, Reason: ratelimit.ReasonRateLimited, RetryAfter: 1500 * time.Millisecond,
		Policies: []ratelimit.PolicyState{{Name: "burst", Quota: 20, Remaining: 0, Reset: 2 * time.Second, Window: 2 * time.Second}}}
	need := policy.Requirement{Scopes: []string{"infer:mlp"}, Model: "mlp", Cost: 1}
	allowedTier := allow(claims, need)
	allowedTier.Tier, allowedTier.Limit = tier, &ratelimit.Result{Allowed: true, Policies: limited.Policies}
	bigBody := denyToken(token.ErrExpired)
	bigBody.Description = strings.Repeat("long description ", 20) // a length that needs two varint bytes
	tests := []struct {
		name string
		d    Decision
		r    request
		keep bool
	}{
		{"allowed", allow(claims, need), request{}, false},
		{"allowed keeps authorization, strips forged identity", allow(claims, need),
			request{identityHeaders: []string{HeaderClientID, "x-torchgate-tenant", HeaderTier}}, true},
		{"allowed without subject removes a forged subject", allow(&noSubject, policy.Requirement{}),
			request{identityHeaders: []string{HeaderSubject}}, false},
		{"allowed with tier and rate-limit fields", allowedTier, request{identityHeaders: []string{HeaderPriority}}, false},
		{"missing token", denyToken(token.ErrMissing), request{}, false},
		{"expired, long description", bigBody, request{}, false},
		{"insufficient scope", denyScope(claims, need), request{}, false},
		{"no route", denyRoute(claims, policy.ErrNoRoute), request{}, false},
		{"rate limited", denyLimit(claims, need, tier, *limited), request{}, false},
		{"internal", denyInternal(), request{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := new(authv3.CheckResponse)
			if err := proto.Unmarshal(appendResponse(nil, &tc.d, &tc.r, tc.keep), got); err != nil {
				t.Fatalf("not a CheckResponse: %v", err)
			}
			want := oracleResponse(tc.d, tc.r, tc.keep)
			if !proto.Equal(got, want) {
				t.Errorf("response\n%s\nwant\n%s", prototext.Format(got), prototext.Format(want))
			}
		})
	}
}
