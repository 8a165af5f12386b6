package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

// Claims are the verified facts an authorization decision needs.
type Claims struct {
	Issuer  string
	Subject string
	// ClientID is "client_id" (RFC 9068 §2.2), else "azp" (OpenID Connect), else "sub".
	ClientID string
	JTI      string
	// Tier is the "tier" claim: the client's service tier, when the issuer sets one.
	Tier     string
	Audience []string
	// Scopes come from "scope" (a space-delimited string, RFC 8693 §4.2), else from "scp" (an
	// array of strings, or a space-delimited string).
	Scopes []string
	// ScopeText is Scopes joined by single spaces, as the x-torchgate-scopes header carries
	// them; computed once per verified token, not once per request.
	ScopeText string
	// IssuedAt, NotBefore and Expiry are zero when the claim is absent; exp is required, so
	// Expiry is never zero after Verify.
	IssuedAt, NotBefore, Expiry time.Time
}

// HasAnyScope reports whether the claims hold at least one of want; an empty want is always
// satisfied.
func (c *Claims) HasAnyScope(want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		for _, s := range c.Scopes {
			if s == w {
				return true
			}
		}
	}
	return false
}

// claimSet is the JSON shape of the payload; only the claims the decision needs are decoded.
type claimSet struct {
	Iss      string      `json:"iss"`
	Sub      string      `json:"sub"`
	Aud      stringList  `json:"aud"`
	Exp      numericDate `json:"exp"`
	Nbf      numericDate `json:"nbf"`
	Iat      numericDate `json:"iat"`
	JTI      string      `json:"jti"`
	ClientID string      `json:"client_id"`
	Azp      string      `json:"azp"`
	Scope    scopeList   `json:"scope"`
	Scp      scopeList   `json:"scp"`
	Tier     string      `json:"tier"`
}

// claims converts the decoded payload into Claims.
func (cs *claimSet) claims() *Claims {
	c := &Claims{
		Issuer: cs.Iss, Subject: cs.Sub, JTI: cs.JTI, Tier: cs.Tier, Audience: cs.Aud,
		ClientID: cs.ClientID, Scopes: cs.Scope,
		IssuedAt: cs.Iat.Time, NotBefore: cs.Nbf.Time, Expiry: cs.Exp.Time,
	}
	if c.ClientID == "" {
		c.ClientID = cs.Azp
	}
	if c.ClientID == "" {
		c.ClientID = cs.Sub
	}
	if c.Scopes == nil {
		c.Scopes = cs.Scp
	}
	c.ScopeText = strings.Join(c.Scopes, " ")
	return c
}

var (
	errNotString  = errors.New("token: claim is not a string or an array of strings")
	errNotNumeric = errors.New("token: claim is not a NumericDate")
)

// stringList is a claim that is a string or an array of strings, as "aud" (RFC 7519 §4.1.3).
type stringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *stringList) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	case len(b) > 0 && b[0] == '[':
		var ss []string
		if err := json.Unmarshal(b, &ss); err != nil {
			return errNotString
		}
		*l = ss
		return nil
	}
	return errNotString
}

// scopeList is a scope claim: a space-delimited string, or an array of strings.
type scopeList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *scopeList) UnmarshalJSON(b []byte) error {
	var sl stringList
	if err := sl.UnmarshalJSON(b); err != nil {
		return err
	}
	if len(b) > 0 && b[0] == '"' {
		sl = strings.Fields(sl[0])
	}
	*l = scopeList(sl)
	if *l == nil && !bytes.Equal(b, []byte("null")) {
		*l = scopeList{} // present but empty: do not fall back to "scp"
	}
	return nil
}

// numericDate is a NumericDate claim (RFC 7519 §2): seconds since the epoch, possibly with a
// fraction. The zero Time means absent.
type numericDate struct{ time.Time }

// maxNumericDate keeps dates within what time.Time's nanosecond arithmetic handles.
const maxNumericDate = float64(math.MaxInt64/int64(time.Second)) - 1

// UnmarshalJSON implements json.Unmarshaler.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		d.Time = time.Time{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errNotNumeric
	}
	if f < 0 || f > maxNumericDate {
		return errNotNumeric
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}
