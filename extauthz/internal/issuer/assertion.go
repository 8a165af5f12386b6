package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// assertionAlgorithms are the signing algorithms accepted in client assertions.
var assertionAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// authenticateAssertion authenticates a private_key_jwt client (RFC 7523 §2.2, §3).
func (s *Server) authenticateAssertion(ctx context.Context, r *http.Request, f form) (*clients.Client, bool, *authFailure) {
	if f.get("client_assertion_type") != assertionType {
		return nil, false, &authFailure{err: ErrInvalidRequest.with("client_assertion_type must be " + assertionType), reason: failNoCredentials}
	}
	raw := f.get("client_assertion")
	if raw == "" {
		return nil, false, &authFailure{err: ErrInvalidRequest.with("client_assertion is missing"), reason: failNoCredentials}
	}
	// The unverified iss picks the client whose keys verify the signature; nothing else is
	// trusted before that.
	id, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, false, s.failed("", r, failBadAssertion)
	}
	if formID := f.get("client_id"); formID != "" && formID != id {
		return nil, false, &authFailure{err: ErrInvalidRequest.with("client_id does not match the assertion"), reason: failNoCredentials}
	}
	if wait := s.limited(id, r); wait > 0 {
		e := ErrTooManyRequests.with(ErrTooManyRequests.Description)
		e.retryAfter = wait
		return nil, false, &authFailure{err: e, reason: failRateLimited}
	}
	cl, ok := s.opts.Clients.Lookup(id)
	switch {
	case !ok:
		return nil, false, s.failed(id, r, failUnknownClient)
	case !cl.AllowsMethod(clients.AuthPrivateKeyJWT):
		return nil, false, s.failed(id, r, failMethod)
	case cl.Disabled:
		return nil, false, s.failed(id, r, failDisabled)
	}
	claims, fail := s.verifyAssertion(ctx, cl, raw)
	if fail != nil {
		s.failed(id, r, fail.reason)
		fail.clientID = id
		return nil, false, fail
	}
	// RFC 7523 §3 item 7: the jti may be used only once, until the assertion expires.
	ttl := claims.Expiry.Sub(s.opts.Now()) + s.opts.ClockSkew
	first, err := s.replay.firstUse(ctx, id+"\x00"+claims.JTI, ttl)
	if err != nil {
		s.opts.Logger.Error("issuer: assertion replay cache", "error", err)
		return nil, false, &authFailure{err: ErrUnavailable, reason: failBadAssertion}
	}
	if !first {
		return nil, false, s.failed(id, r, failReplay)
	}
	return cl, false, nil
}

// verifyAssertion checks the assertion's signature against the client's registered keys and
// its claims (RFC 7523 §3): iss and sub are the client id, aud names the token endpoint or the
// issuer, exp is required and near, nbf and iat are not in the future, jti is present.
func (s *Server) verifyAssertion(ctx context.Context, cl *clients.Client, raw string) (*token.Claims, *authFailure) {
	var keys token.KeySource = cl.Keys()
	if cl.Keys() == nil {
		ks, err := s.keysForURI(cl.JWKSURI)
		if err != nil {
			return nil, &authFailure{err: ErrInvalidClient.with("the client's key set is unusable"), reason: failBadAssertion}
		}
		keys = ks
	}
	v, err := token.NewVerifier([]token.Issuer{{
		Issuer: cl.ID, Audiences: []string{s.tokenURL, s.opts.URL}, Algorithms: assertionAlgorithms,
		// An access token (typ at+jwt) is never a client assertion (RFC 8725 §3.11).
		Types: []string{"", "JWT"}, Keys: keys,
	}}, token.Options{ClockSkew: s.opts.ClockSkew, Now: s.opts.Now})
	if err != nil {
		return nil, &authFailure{err: ErrServer.wrap(err), reason: failBadAssertion}
	}
	claims, err := v.Verify(ctx, token.Raw(raw))
	if err != nil {
		var te *token.Error
		desc := "the client assertion is invalid"
		if errors.As(err, &te) {
			desc = "client assertion: " + te.Description
		}
		return nil, &authFailure{err: ErrInvalidClient.with(desc), reason: failBadAssertion}
	}
	switch {
	case claims.Subject != cl.ID:
		return nil, &authFailure{err: ErrInvalidClient.with("client assertion: sub must be the client id"), reason: failBadAssertion}
	case claims.JTI == "":
		return nil, &authFailure{err: ErrInvalidClient.with("client assertion: jti is required"), reason: failBadAssertion}
	case claims.Expiry.Sub(s.opts.Now()) > s.opts.MaxAssertionLifetime:
		return nil, &authFailure{err: ErrInvalidClient.with("client assertion: exp is too far in the future"), reason: failBadAssertion}
	}
	return claims, nil
}

// unverifiedIssuer reads the iss claim of a compact JWS without verifying it.
func unverifiedIssuer(raw string) (string, error) {
	msg, err := jws.ParseString(raw, jws.WithCompact())
	if err != nil {
		return "", err
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(msg.Payload(), &c); err != nil {
		return "", err
	}
	if !clients.ValidID(c.Iss) {
		return "", errors.New("issuer: assertion iss is not a client id")
	}
	return c.Iss, nil
}
