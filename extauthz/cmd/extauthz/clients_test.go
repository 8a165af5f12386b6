package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/revocation"
)

func TestClientsAddPrintsOnlyTheSecret(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clients.yaml")
	var out, errOut bytes.Buffer
	err := runClients([]string{"add", "--file", file, "--id", "svc", "--scopes", "infer:mlp infer:cnn", "--tier", "pro",
		"--audiences", "torchgate"}, &out, &errOut, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSuffix(out.String(), "\n")
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout = %q: want only a 256-bit base64url secret and a newline", out.String())
	}
	if strings.Contains(errOut.String(), secret) {
		t.Error("stderr repeats the secret")
	}
	stored, _ := os.ReadFile(file)
	if strings.Contains(string(stored), secret) {
		t.Error("the registry stores the secret, not a hash")
	}
	f, err := clients.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Find("svc")
	if c == nil || !c.CheckSecret(secret) || c.Tier != "pro" || len(c.Scopes) != 2 {
		t.Fatalf("stored client = %+v", c)
	}

	out.Reset()
	if err := runClients([]string{"rotate-secret", "--file", file, "--id", "svc"}, &out, &errOut, time.Now); err != nil {
		t.Fatal(err)
	}
	newSecret := strings.TrimSuffix(out.String(), "\n")
	f, _ = clients.Load(file)
	if newSecret == secret || !f.Find("svc").CheckSecret(newSecret) || f.Find("svc").CheckSecret(secret) {
		t.Error("rotate-secret did not replace the secret")
	}

	out.Reset()
	if err := runClients([]string{"list", "--file", file}, &out, &errOut, time.Now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "svc") || strings.Contains(out.String(), "hmac") || strings.Contains(out.String(), newSecret) {
		t.Errorf("list = %q", out.String())
	}

	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if err := runClients([]string{"disable", "--file", file, "--id", "svc"}, &out, &errOut, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	f, _ = clients.Load(file)
	if c := f.Find("svc"); !c.Disabled || !c.NotBefore.After(now) {
		t.Errorf("after disable: %+v", c)
	}
	if err := runClients([]string{"add", "--file", file, "--id", "svc", "--scopes", "x"}, &out, &errOut, time.Now); err == nil {
		t.Error("adding an existing id succeeded")
	}
}

func TestKeysRotatePrintsKID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errOut bytes.Buffer
	if err := runKeys([]string{"list", "--dir", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runKeys([]string{"rotate", "--dir", dir, "--sign-after", "2h"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	kid := strings.TrimSpace(out.String())
	out.Reset()
	_ = runKeys([]string{"list", "--dir", dir}, &out, &errOut)
	if kid == "" || strings.Count(out.String(), "\n") != 3 || !strings.Contains(out.String(), kid) {
		t.Errorf("list after rotate = %q (new kid %q)", out.String(), kid)
	}
}

func TestRevokeNeedsRedis(t *testing.T) {
	var errOut bytes.Buffer
	if err := runRevoke([]string{"--jti", "abc"}, &errOut); err == nil || !strings.Contains(err.Error(), "no redis") {
		t.Errorf("revoke without redis: %v", err)
	}
	if err := runRevoke([]string{"--jti", "abc", "--client", "c"}, &errOut); err == nil {
		t.Error("revoke with both --jti and --client succeeded")
	}
}

func TestRevokePublishes(t *testing.T) {
	mr := miniredis.RunT(t)
	config := filepath.Join(t.TempDir(), "extauthz.yaml")
	if err := os.WriteFile(config, []byte("redis:\n  url: redis://"+mr.Addr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := mr.NewSubscriber()
	sub.Subscribe(revocation.Channel)
	// miniredis delivers synchronously: read while the CLI publishes.
	got := make(chan string, 2)
	go func() {
		for m := range sub.Messages() {
			got <- m.Channel
		}
	}()
	var errOut bytes.Buffer
	exp := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	if err := runRevoke([]string{"--jti", "abc", "--exp", exp, "--config", config}, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := runRevoke([]string{"--client", "svc", "--config", config}, &errOut); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists(revocation.KeyPrefixJTI+"abc") || !mr.Exists(revocation.KeyPrefixClient+"svc") {
		t.Errorf("keys = %v", mr.Keys())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 2 {
		select {
		case ch := <-got:
			if ch != revocation.Channel {
				t.Errorf("message on %q", ch)
			}
		case <-ctx.Done():
			t.Fatal("no revocation message published")
		}
	}
}
