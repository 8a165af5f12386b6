package token

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func BenchmarkVerify(b *testing.B) {
	k := keys()
	rs := sign(b, jwa.RS256(), k.rsa, map[string]any{"kid": "rsa", "typ": "at+jwt"}, claimsAt(nil))
	es := sign(b, jwa.ES256(), k.ec, map[string]any{"kid": "ec", "typ": "at+jwt"}, claimsAt(nil))
	ctx := b.Context()
	cached := newTestVerifier(b, true)
	if _, err := cached.Verify(ctx, rs); err != nil {
		b.Fatal(err)
	}
	b.Run("cache_hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cached.Verify(ctx, rs); err != nil {
				b.Fatal(err)
			}
		}
	})
	uncached := newTestVerifier(b, false)
	for _, bc := range []struct {
		name string
		raw  Raw
	}{{"miss_RS256", rs}, {"miss_ES256", es}} {
		if _, err := uncached.Verify(ctx, bc.raw); err != nil { // prime the key set
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := uncached.Verify(ctx, bc.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := [][]byte{[]byte("Bearer " + string(sign(b, jwa.ES256(), keys().ec, map[string]any{"kid": "ec"}, claimsAt(nil))))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h, 0); err != nil {
			b.Fatal(err)
		}
	}
}
