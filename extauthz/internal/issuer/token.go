package issuer

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
)

// tokenResponse is the successful token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// accessClaims are the claims of an issued token (RFC 9068 §2.2).
type accessClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Aud      []string `json:"aud"`
	Scope    string   `json:"scope,omitempty"`
	Iat      int64    `json:"iat"`
	Exp      int64    `json:"exp"`
	JTI      string   `json:"jti"`
	Tier     string   `json:"tier,omitempty"`
}

// grant is what one token request was granted.
type grant struct {
	scopes    []string
	audiences []string
}

// handleToken serves POST /oauth2/token: the client credentials grant (RFC 6749 §4.4).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	f, err := readForm(w, r)
	if err != nil {
		s.refuse(w, r, now, "", err, false)
		return
	}
	if f.get("grant_type") == "" {
		s.refuse(w, r, now, "", ErrInvalidRequest.with("grant_type is missing"), false)
		return
	}
	cl, basic, fail := s.authenticate(r.Context(), r, f)
	if fail != nil {
		s.countFailure(fail)
		s.refuse(w, r, now, fail.clientID, fail.err, basic)
		return
	}
	if f.get("grant_type") != "client_credentials" {
		s.refuse(w, r, now, cl.ID, ErrUnsupportedGrantType, basic)
		return
	}
	g, err := s.grantFor(cl, f)
	if err != nil {
		s.refuse(w, r, now, cl.ID, err, basic)
		return
	}
	resp, jti, err := s.mint(cl, g, now)
	if err != nil {
		s.opts.Logger.Error("issuer: signing token", slog.Any("error", err))
		s.refuse(w, r, now, cl.ID, ErrUnavailable.wrap(err), basic)
		return
	}
	s.metrics.issued.Inc(cl.ID)
	s.auditToken(r, now, cl.ID, "issued", "", jti, g)
	writeJSON(w, http.StatusOK, resp)
}

// refuse audits a refused token request and writes the error.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, now time.Time, clientID string, err error, basic bool) {
	reason := "server_error"
	if e, ok := err.(*Error); ok {
		reason = e.Code
	}
	s.auditToken(r, now, clientID, "refused", reason, "", grant{})
	writeError(w, err, basic)
}

// auditToken writes the audit line of one token request.
func (s *Server) auditToken(r *http.Request, now time.Time, clientID, outcome, reason, jti string, g grant) {
	if s.opts.Audit == nil {
		return
	}
	attrs := []slog.Attr{slog.String("client_id", trimmedID(clientID)), slog.String("outcome", outcome),
		slog.String("source", sourceAddr(r))}
	if outcome == "issued" {
		attrs = append(attrs, slog.String("jti", jti), slog.String("scope", strings.Join(g.scopes, " ")),
			slog.Any("aud", g.audiences), slog.Duration("lifetime", s.opts.TTL))
	} else {
		attrs = append(attrs, slog.String("reason", reason))
	}
	s.opts.Audit.Log(now, "issuer.token", attrs...)
}

// grantFor decides the scopes and audiences of a request.
func (s *Server) grantFor(cl *clients.Client, f form) (grant, error) {
	if len(cl.Scopes) == 0 {
		return grant{}, ErrUnauthorizedClient.with("the client may not be granted any scope")
	}
	scopes, err := grantScopes(cl.Scopes, f.get("scope"))
	if err != nil {
		return grant{}, err
	}
	auds, err := s.grantAudiences(cl, f)
	if err != nil {
		return grant{}, err
	}
	return grant{scopes: scopes, audiences: auds}, nil
}

// grantScopes returns requested ∩ allowed, in request order (RFC 6749 §3.3): no scope asked
// means every allowed scope, and asking for a scope that is not allowed fails the request.
func grantScopes(allowed []string, requested string) ([]string, error) {
	if requested == "" {
		return slices.Clone(allowed), nil
	}
	var out []string
	for _, sc := range strings.Split(requested, " ") {
		if sc == "" {
			continue // tolerate repeated spaces
		}
		if !validScopeToken(sc) {
			return nil, ErrInvalidScope.with("the scope parameter is malformed")
		}
		if !slices.Contains(allowed, sc) {
			return nil, ErrInvalidScope
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return slices.Clone(allowed), nil
	}
	return out, nil
}

// validScopeToken checks scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// grantAudiences applies RFC 8707: every "resource" (and the "audience" parameter) must be an
// audience the client may ask for: its registered audiences, or the default audience when it
// has none. No request means the default audience when allowed, else the client's first.
func (s *Server) grantAudiences(cl *clients.Client, f form) ([]string, error) {
	allowed := cl.Audiences
	if len(allowed) == 0 {
		allowed = []string{s.opts.Audience}
	}
	var out []string
	requested := slices.Clone(f["resource"])
	if a := f.get("audience"); a != "" {
		requested = append(requested, a)
	}
	for _, a := range requested {
		if a == "" {
			continue
		}
		if !slices.Contains(allowed, a) {
			return nil, ErrInvalidTarget
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if slices.Contains(allowed, s.opts.Audience) {
		return []string{s.opts.Audience}, nil
	}
	return allowed[:1], nil
}

// mint signs an access token (RFC 9068) and builds the response.
func (s *Server) mint(cl *clients.Client, g grant, now time.Time) (*tokenResponse, string, error) {
	jti, err := newJTI()
	if err != nil {
		return nil, "", err
	}
	iat := now.Unix()
	ttl := int64(s.opts.TTL / time.Second)
	c := accessClaims{Iss: s.opts.URL, Sub: cl.ID, ClientID: cl.ID, Aud: g.audiences,
		Scope: strings.Join(g.scopes, " "), Iat: iat, Exp: iat + ttl, JTI: jti, Tier: cl.Tier}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, "", err
	}
	tok, _, err := s.opts.Keys.Sign(payload, TokenType)
	if err != nil {
		return nil, "", err
	}
	return &tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: ttl, Scope: c.Scope}, jti, nil
}

// newJTI returns 128 random bits, base64url encoded.
func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
