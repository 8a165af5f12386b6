package issuer

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// introspection is an RFC 7662 §2.2 response; an inactive token yields only {"active":false}.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	Tier      string   `json:"tier,omitempty"`
}

// handleIntrospect serves POST /oauth2/introspect (RFC 7662). Any registered client may
// introspect ("the protected resource calls the introspection endpoint using ... client
// credentials", §2.1); a token that is invalid, expired, revoked, or not one of this issuer's
// answers {"active":false} and nothing else.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	_, f, ok := s.authenticatedRequest(w, r)
	if !ok {
		return
	}
	c, err := s.verifyOwn(r.Context(), f)
	if err != nil {
		writeError(w, err, false)
		return
	}
	if c == nil {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	if _, revoked := s.opts.Revocations.Revoked(c); revoked {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	writeJSON(w, http.StatusOK, introspection{Active: true, Scope: strings.Join(c.Scopes, " "),
		ClientID: c.ClientID, TokenType: "Bearer", Exp: c.Expiry.Unix(), Iat: unixOrZero(c.IssuedAt),
		Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, JTI: c.JTI, Tier: c.Tier})
}

// handleRevoke serves POST /oauth2/revoke (RFC 7009). A client may revoke only its own tokens;
// an invalid, expired or foreign-issuer token is answered 200 as §2.2 asks ("invalid tokens do
// not cause an error response"). The revocation reaches every replica through the Store.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	cl, f, ok := s.authenticatedRequest(w, r)
	if !ok {
		return
	}
	c, err := s.verifyOwn(r.Context(), f)
	if err != nil {
		writeError(w, err, false)
		return
	}
	if c == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	if c.ClientID != cl.ID {
		// §2.1: "the authorization server ... verifies whether the token was issued to the
		// client making the revocation request. If this validation fails, the request is
		// refused and the client is informed of the error."
		writeError(w, ErrUnauthorizedClient.with("the token was not issued to this client"), false)
		return
	}
	now := s.opts.Now()
	err = s.opts.Revocations.RevokeJTI(r.Context(), c.JTI, c.ClientID, c.Expiry)
	if s.opts.Audit != nil {
		outcome := "revoked"
		if err != nil {
			outcome = "revoked_locally"
		}
		s.opts.Audit.Log(now, "issuer.revoke", slog.String("client_id", c.ClientID), slog.String("jti", c.JTI),
			slog.String("source", sourceAddr(r)), slog.String("outcome", outcome))
	}
	if err != nil {
		// Not every replica knows yet: ask the client to retry (§2.2.1 allows 503).
		s.opts.Logger.Error("issuer: publishing revocation", slog.Any("error", err))
		writeError(w, ErrUnavailable.wrap(err), false)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// authenticatedRequest reads the form and authenticates the calling client, writing the
// error response itself when that fails.
func (s *Server) authenticatedRequest(w http.ResponseWriter, r *http.Request) (*clients.Client, form, bool) {
	f, err := readForm(w, r)
	if err != nil {
		writeError(w, err, false)
		return nil, nil, false
	}
	cl, basic, fail := s.authenticate(r.Context(), r, f)
	if fail != nil {
		s.countFailure(fail)
		writeError(w, fail.err, basic)
		return nil, nil, false
	}
	return cl, f, true
}

// verifyOwn verifies the "token" parameter as one of this issuer's access tokens. It returns
// nil claims for any token that does not verify; only a missing parameter is an error.
func (s *Server) verifyOwn(ctx context.Context, f form) (*token.Claims, error) {
	raw := f.get("token")
	if raw == "" {
		return nil, ErrInvalidRequest.with("token is missing")
	}
	auds := append([]string{s.opts.Audience}, s.opts.Clients.Audiences()...)
	// A token past its exp is inactive: the leeway is one nanosecond (zero means the default).
	v, err := token.NewVerifier([]token.Issuer{s.TrustedIssuer(auds)},
		token.Options{ClockSkew: time.Nanosecond, Now: s.opts.Now})
	if err != nil {
		return nil, ErrServer.wrap(err)
	}
	c, err := v.Verify(ctx, token.Raw(raw))
	if err != nil {
		return nil, nil
	}
	return c, nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
