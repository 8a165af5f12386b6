package token

import (
	"errors"
	"testing"
)

func FuzzVerify(f *testing.F) {
	for _, tc := range verifyCases(f) {
		f.Add([]byte(tc.raw))
	}
	v := newTestVerifier(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := v.Verify(t.Context(), Raw(b))
		var te *Error
		if err != nil && (!errors.As(err, &te) || c != nil) {
			t.Fatalf("failure %T with claims", err)
		}
		if err == nil && c.Expiry.IsZero() {
			t.Fatal("accepted a token without exp")
		}
	})
}
