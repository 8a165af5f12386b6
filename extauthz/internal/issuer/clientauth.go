package issuer

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
)

// assertionType is the client_assertion_type of private_key_jwt (RFC 7523 §2.2).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authFailure is a failed client authentication: the error for the client and the reason for
// metrics and the audit log.
type authFailure struct {
	err      *Error
	reason   string
	clientID string // the client id the request claimed, when known; for the audit log
}

// authenticate identifies and authenticates the calling client (RFC 6749 §2.3) by exactly one
// of client_secret_basic, client_secret_post and private_key_jwt. basic reports whether the
// request used HTTP Basic, for the WWW-Authenticate header. Failures are rate limited per
// client id and per source address, counted, and audited by the caller.
func (s *Server) authenticate(ctx context.Context, r *http.Request, f form) (c *clients.Client, basic bool, fail *authFailure) {
	id, secret, basic := r.BasicAuth()
	_, hasAuthz := r.Header["Authorization"]
	if hasAuthz && !basic {
		return nil, false, &authFailure{err: ErrInvalidClient.with("only HTTP Basic client authentication is supported"), reason: failNoCredentials}
	}
	method := clients.AuthSecretBasic
	if basic {
		// RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, true, &authFailure{err: ErrInvalidClient.with("the Basic credentials are not form-urlencoded"), reason: failNoCredentials}
		}
	}
	formID := f.get("client_id")
	methods := 0
	for _, present := range []bool{basic, f.get("client_secret") != "", f.get("client_assertion") != "" || f.get("client_assertion_type") != ""} {
		if present {
			methods++
		}
	}
	switch {
	case methods > 1:
		// RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
		return nil, basic, &authFailure{err: ErrInvalidRequest.with("more than one client authentication method was used"), reason: failNoCredentials}
	case basic:
		if formID != "" && formID != id {
			return nil, true, &authFailure{err: ErrInvalidRequest.with("client_id does not match the Basic credentials"), reason: failNoCredentials}
		}
	case f.get("client_secret") != "":
		id, secret, method = formID, f.get("client_secret"), clients.AuthSecretPost
	case methods == 1:
		return s.authenticateAssertion(ctx, r, f)
	default:
		return nil, false, &authFailure{err: ErrInvalidClient.with("client authentication is required"), reason: failNoCredentials}
	}
	if wait := s.limited(id, r); wait > 0 {
		e := ErrTooManyRequests.with(ErrTooManyRequests.Description)
		e.retryAfter = wait
		return nil, basic, &authFailure{err: e, reason: failRateLimited}
	}
	cl, ok := s.opts.Clients.Lookup(id)
	switch {
	case !ok:
		clients.CheckUnknownSecret(secret)
		return nil, basic, s.failed(id, r, failUnknownClient)
	case !cl.CheckSecret(secret):
		return nil, basic, s.failed(id, r, failBadSecret)
	case !cl.AllowsMethod(method):
		return nil, basic, s.failed(id, r, failMethod)
	case cl.Disabled:
		return nil, basic, s.failed(id, r, failDisabled)
	}
	return cl, basic, nil
}

// limited returns how long the client id or the source address must wait after failures.
func (s *Server) limited(id string, r *http.Request) time.Duration {
	return max(s.limiter.retryAfter("client:"+id), s.limiter.retryAfter("addr:"+sourceAddr(r)))
}

// failed records a failed authentication and returns the generic invalid_client: the
// description never tells which part was wrong.
func (s *Server) failed(id string, r *http.Request, reason string) *authFailure {
	if id != "" {
		s.limiter.fail("client:" + id)
	}
	s.limiter.fail("addr:" + sourceAddr(r))
	s.opts.Logger.Debug("issuer: client authentication failed", slog.String("client_id", id), slog.String("reason", reason))
	return &authFailure{err: ErrInvalidClient, reason: reason, clientID: id}
}

// countFailure counts a failure in torchgate_issuer_auth_failures_total.
func (s *Server) countFailure(f *authFailure) {
	s.metrics.authFailures.WithLabelValues(f.reason).Inc()
}

// trimmedID bounds a client id taken from a request before it reaches a log line.
func trimmedID(id string) string {
	if len(id) > 128 {
		return id[:128]
	}
	return strings.ToValidUTF8(id, "?")
}
