package issuer

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// verifierFor returns a token.Verifier that trusts the issuer through its JWKS fetched over
// HTTP by a jwks.Set, requiring typ at+jwt: what the decision service does.
func verifierFor(t *testing.T, e *env) *token.Verifier {
	t.Helper()
	set, err := jwks.New(jwks.Options{Issuer: e.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier([]token.Issuer{{Issuer: e.srv.URL, Audiences: []string{"torchgate"},
		Types: []string{TokenType}, Keys: set}}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRealClientTokenVerifies(t *testing.T) {
	e := newEnv(t, nil)
	v := verifierFor(t, e)
	for _, tc := range []struct {
		name   string
		cfg    clientcredentials.Config
		scopes []string
		tier   string
	}{
		{name: "client_secret_basic", cfg: clientcredentials.Config{ClientID: "svc", ClientSecret: e.secret,
			Scopes: []string{"infer:mlp"}, AuthStyle: oauth2.AuthStyleInHeader}, scopes: []string{"infer:mlp"}, tier: "pro"},
		{name: "client_secret_post all scopes", cfg: clientcredentials.Config{ClientID: "svc", ClientSecret: e.secret,
			AuthStyle: oauth2.AuthStyleInParams}, scopes: []string{"infer:mlp", "infer:cnn"}, tier: "pro"},
		{name: "private_key_jwt", cfg: clientcredentials.Config{AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"client_assertion_type": {assertionType},
				"client_assertion": {e.assertion(t, nil)}}}, scopes: []string{"infer:mlp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.TokenURL = e.srv.URL + PathToken
			tok, err := tc.cfg.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), token.Raw(tok.AccessToken))
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			want := "svc"
			if tc.name == "private_key_jwt" {
				want = "jwtc"
			}
			if c.ClientID != want || c.Subject != want || !slices.Equal(c.Scopes, tc.scopes) || c.Tier != tc.tier ||
				!slices.Equal(c.Audience, []string{"torchgate"}) || len(c.JTI) < 22 ||
				c.Expiry.Sub(c.IssuedAt) != DefaultTTL {
				t.Errorf("claims = %+v", c)
			}
			if _, revoked := e.revoked.Revoked(c); revoked {
				t.Error("fresh token reported revoked")
			}
		})
	}
}
