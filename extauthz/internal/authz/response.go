package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
)

// Identity headers set on allowed requests (DESIGN.md, fixed interfaces).
const (
	HeaderClientID = "x-torchgate-client-id"
	HeaderSubject  = "x-torchgate-subject"
	HeaderScopes   = "x-torchgate-scopes"
	HeaderTier     = "x-torchgate-tier"
	HeaderPriority = "x-torchgate-priority"
)

// MetadataNamespace is the key under which Envoy finds this service's dynamic metadata
// (%DYNAMIC_METADATA(envoy.filters.http.ext_authz:client_id)% in access logs).
const MetadataNamespace = "envoy.filters.http.ext_authz"

// response renders a decision as Envoy's CheckResponse.
func response(d Decision, r request, keepAuthorization bool) *authv3.CheckResponse {
	if d.Allowed {
		return allowedResponse(d, r, keepAuthorization)
	}
	return deniedResponse(d)
}

func allowedResponse(d Decision, r request, keepAuthorization bool) *authv3.CheckResponse {
	c := d.Claims
	set := []*corev3.HeaderValueOption{
		overwrite(HeaderClientID, c.ClientID),
		overwrite(HeaderSubject, c.Subject),
		overwrite(HeaderScopes, strings.Join(c.Scopes, " ")),
	}
	if d.Tier != nil {
		set = append(set, overwrite(HeaderTier, d.Tier.Name), overwrite(HeaderPriority, strconv.Itoa(d.Tier.Priority)))
	}
	var remove []string
	if !keepAuthorization {
		remove = append(remove, "authorization")
	}
	for _, name := range r.identityHeaders {
		if !setsHeader(set, name) {
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
		meta["jti_hash"] = structpb.NewStringValue(jtiHash(c.JTI))
	}
	md := &structpb.Struct{Fields: meta}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:              set,
			HeadersToRemove:      remove,
			ResponseHeadersToAdd: rateLimitHeaders(d.Limit),
		}},
		DynamicMetadata: md,
	}
}

func deniedResponse(d Decision) *authv3.CheckResponse {
	headers := []*corev3.HeaderValueOption{
		overwrite("content-type", "application/json"),
		overwrite("cache-control", "no-store"),
	}
	if ch := d.wwwAuthenticate(); ch != "" {
		headers = append(headers, overwrite("www-authenticate", ch))
	}
	if d.RetryAfter > 0 {
		headers = append(headers, overwrite("retry-after", retryAfterSeconds(d.RetryAfter)))
	}
	headers = append(headers, rateLimitHeaders(d.Limit)...)
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(grpcCode(d.Status)), Message: d.Reason},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
			Headers: headers,
			Body:    errorBody(d),
		}},
	}
}

// errorBody is the small JSON body every denial carries. It never holds the token or anything
// internal: only the public error code and a description meant for client developers.
func errorBody(d Decision) string {
	code := d.Error
	if code == "" {
		code = "unauthorized"
	}
	desc := d.Description
	if desc == "" {
		desc = http.StatusText(d.Status)
	}
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	return string(b)
}

func grpcCode(status int) codes.Code {
	switch status {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	default:
		return codes.Internal
	}
}

// rateLimitHeaders renders the IETF RateLimit-Policy and RateLimit fields of a limiter result.
func rateLimitHeaders(res *ratelimit.Result) []*corev3.HeaderValueOption {
	if res == nil || len(res.Policies) == 0 {
		return nil
	}
	pol, state := res.Headers()
	return []*corev3.HeaderValueOption{overwrite("ratelimit-policy", pol), overwrite("ratelimit", state)}
}

func overwrite(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func setsHeader(set []*corev3.HeaderValueOption, name string) bool {
	for _, h := range set {
		if h.GetHeader().GetKey() == name {
			return true
		}
	}
	return false
}

// jtiHash identifies a token in access logs without revealing its id.
func jtiHash(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(sum[:8])
}
