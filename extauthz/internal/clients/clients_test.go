package clients

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"
)

func TestSecretHash(t *testing.T) {
	s, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := b64.DecodeString(s); err != nil || len(b) != SecretBytes {
		t.Fatalf("secret %d bytes, %v", len(b), err)
	}
	h1, _ := HashSecret(s)
	h2, _ := HashSecret(s)
	if h1 == h2 || strings.Contains(h1, s) {
		t.Errorf("hashes not salted or contain the secret: %q %q", h1, h2)
	}
	c := &Client{ID: "a", SecretHash: h1, Scopes: []string{"x"}}
	if err := c.prepare(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		secret string
		want   bool
	}{
		{name: "right secret", secret: s, want: true},
		{name: "wrong secret", secret: s[:len(s)-1] + "A", want: s[len(s)-1] == 'A'},
		{name: "empty secret", secret: "", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.CheckSecret(tc.secret); got != tc.want {
				t.Errorf("CheckSecret = %v, want %v", got, tc.want)
			}
		})
	}
}

func writeRegistry(t *testing.T, mode os.FileMode, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clients.yaml")
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	h, _ := HashSecret("s")
	for _, tc := range []struct {
		name string
		mode os.FileMode
		body string
		want error
	}{
		{name: "valid", mode: 0o600, body: "clients:\n- id: a\n  secret_hash: " + h + "\n  scopes: [x]\n"},
		{name: "group readable refused", mode: 0o640, body: "clients: []\n", want: ErrInsecureMode},
		{name: "world readable refused", mode: 0o604, body: "clients: []\n", want: ErrInsecureMode},
		{name: "unknown key", mode: 0o600, body: "clients:\n- id: a\n  secret: plain\n", want: ErrInvalid},
		{name: "duplicate id", mode: 0o600, body: "clients:\n- {id: a, secret_hash: '" + h + "'}\n- {id: a, secret_hash: '" + h + "'}\n", want: ErrInvalid},
		{name: "bad id", mode: 0o600, body: "clients:\n- {id: 'a:b', secret_hash: '" + h + "'}\n", want: ErrInvalid},
		{name: "secret client without hash", mode: 0o600, body: "clients:\n- {id: a}\n", want: ErrInvalid},
		{name: "malformed hash", mode: 0o600, body: "clients:\n- {id: a, secret_hash: 'sha1$x$y'}\n", want: ErrInvalid},
		{name: "private_key_jwt without keys", mode: 0o600, body: "clients:\n- {id: a, token_endpoint_auth_method: private_key_jwt}\n", want: ErrInvalid},
		{name: "symmetric jwks", mode: 0o600, body: "clients:\n- {id: a, token_endpoint_auth_method: private_key_jwt, jwks: '{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}'}\n", want: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeRegistry(t, tc.mode, tc.body))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Load: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSaveIsAtomicAndPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.yaml")
	h, _ := HashSecret("s")
	if err := Update(path, func(f *File) error {
		f.Clients = append(f.Clients, &Client{ID: "a", SecretHash: h, Scopes: []string{"x"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	// An invalid update leaves the file untouched and no temporary file behind.
	before, _ := os.ReadFile(path)
	err = Update(path, func(f *File) error {
		f.Clients = append(f.Clients, &Client{ID: "a", SecretHash: h})
		return nil
	})
	after, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	if !errors.Is(err, ErrInvalid) || string(before) != string(after) || len(entries) != 1 {
		t.Errorf("invalid update: err %v, changed %v, %d files", err, string(before) != string(after), len(entries))
	}
	// The write replaces the file by rename: a reader holding the old file keeps its content.
	old, _ := os.Open(path)
	defer old.Close()
	_ = Update(path, func(f *File) error { f.Clients[0].Tier = "pro"; return nil })
	stOld, _ := old.Stat()
	stNew, _ := os.Stat(path)
	if os.SameFile(stOld, stNew) {
		t.Error("the file was rewritten in place, not replaced by rename")
	}
}

func TestRegistryReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.yaml")
	h, _ := HashSecret("s")
	add := func(id string) {
		if err := Update(path, func(f *File) error {
			f.Clients = append(f.Clients, &Client{ID: id, SecretHash: h, Scopes: []string{"x"}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	add("a")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 10*time.Millisecond, nil)
	add("b")
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, ok := r.Lookup("b"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("registry did not pick up the new client")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A broken file keeps the previous snapshot.
	_ = os.Chmod(path, 0o644)
	if err := r.Reload(); !errors.Is(err, ErrInsecureMode) {
		t.Errorf("Reload of a world-readable file: %v", err)
	}
	if _, ok := r.Lookup("a"); !ok {
		t.Error("previous snapshot lost")
	}
}

func TestKeySetLookup(t *testing.T) {
	one := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	ks, err := ParseKeySet([]byte(one))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kid  string
		ok   bool
	}{
		{name: "by kid", kid: "k1", ok: true},
		{name: "no kid, one key", kid: "", ok: true},
		{name: "unknown kid", kid: "k2", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ks.LookupKey(context.Background(), tc.kid)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, jwks.ErrUnknownKID)) {
				t.Errorf("LookupKey(%q) = %v", tc.kid, err)
			}
		})
	}
}
