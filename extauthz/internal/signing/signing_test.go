package signing

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signedKID signs a payload and returns the kid of the header, checking the signature
// against the published key.
func signedKID(t *testing.T, k *Keys) string {
	t.Helper()
	tok, kid, err := k.Sign([]byte(`{"sub":"x"}`), "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.LookupKey(context.Background(), kid)
	if err != nil {
		t.Fatal(err)
	}
	alg, _ := pub.Algorithm()
	if _, err := jws.Verify([]byte(tok), jws.WithKey(alg, pub)); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	msg, _ := jws.ParseString(tok)
	h := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := h.Type(); typ != "at+jwt" {
		t.Errorf("typ = %q", typ)
	}
	return kid
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kid := signedKID(t, k)
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, ManifestFile): 0o600, keyPath(dir, kid): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, st.Mode().Perm(), err, want)
		}
	}
	b, _ := json.Marshal(k.JWKS())
	if strings.Contains(string(b), `"d"`) || !strings.Contains(string(b), `"use":"sig"`) || !strings.Contains(string(b), `"alg":"ES256"`) {
		t.Errorf("jwks = %s", b)
	}
	// Opening again keeps the key.
	k2, err := Open(dir, Options{})
	if err != nil || len(k2.Entries()) != 1 || k2.Entries()[0].KID != kid {
		t.Errorf("reopen: %v %+v", err, k2.Entries())
	}
	// A world-readable key file is refused.
	_ = os.Chmod(keyPath(dir, kid), 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrInsecureMode) {
		t.Errorf("open with a 0644 key: %v", err)
	}
}

func TestRotation(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := Open(dir, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	first := signedKID(t, k)
	e, err := Rotate(dir, RotateOptions{Algorithm: RS256, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		advance   time.Duration
		signer    string
		published []string
	}{
		{name: "new key published, old key signs", signer: first, published: []string{first, e.KID}},
		{name: "just before the sign delay", advance: DefaultSignDelay - time.Second, signer: first, published: []string{first, e.KID}},
		{name: "new key signs, old key still published", advance: time.Second, signer: e.KID, published: []string{first, e.KID}},
		{name: "old key retired after the longest token life", advance: DefaultRetainAfter, signer: e.KID, published: []string{e.KID}},
	}
	for _, st := range steps {
		c.Advance(st.advance)
		if got := signedKID(t, k); got != st.signer {
			t.Errorf("%s: signer %s, want %s", st.name, got, st.signer)
		}
		var kids []string
		set := k.JWKS()
		for i := range set.Len() {
			kk, _ := set.Key(i)
			kid, _ := kk.KeyID()
			kids = append(kids, kid)
		}
		if strings.Join(kids, ",") != strings.Join(st.published, ",") {
			t.Errorf("%s: published %v, want %v", st.name, kids, st.published)
		}
	}
	if _, err := k.LookupKey(context.Background(), first); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Errorf("retired key lookup: %v", err)
	}
	// The next rotation deletes the retired key's file.
	if _, err := Rotate(dir, RotateOptions{Now: c.Now}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyPath(dir, first)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("retired key file still there: %v", err)
	}
}

func TestWatchPicksUpRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Watch(ctx, 10*time.Millisecond, nil)
	time.Sleep(20 * time.Millisecond) // let mtime granularity separate the two writes
	e, err := Rotate(dir, RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := k.LookupKey(ctx, e.KID); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the running Keys did not pick up the new key")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
