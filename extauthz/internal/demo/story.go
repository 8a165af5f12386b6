package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// Step is one request of the story and what came back.
type Step struct {
	Name    string
	Method  string
	Path    string
	Status  int
	Header  http.Header
	Body    string
	Comment string // what the step shows, for the printed story
}

// Story walks the user's path through a running stack and returns every step. It fails only
// when a step cannot be made at all; the statuses are for the caller to show or check.
func Story(ctx context.Context, s *Stack) ([]Step, error) {
	var steps []Step
	add := func(st Step, err error) error {
		if err != nil {
			return err
		}
		steps = append(steps, st)
		return nil
	}

	demoTok, tokStep, err := s.token(ctx, "demo")
	if err := add(tokStep, err); err != nil {
		return steps, err
	}
	input, err := s.modelInput(ctx, demoTok)
	if err != nil {
		return steps, err
	}
	infer := func(name, tok string, headers map[string]string) (Step, error) {
		return s.call(ctx, name, http.MethodPost, "/v2/models/mlp/infer", tok, headers, input)
	}
	// The client may forge identity headers; the edge must drop them before the worker.
	if err := add(infer("infer with the token", demoTok, map[string]string{
		"x-torchgate-client-id": "someone-else", "x-torchgate-tier": "pro", "x-request-id": "demo-infer-1"})); err != nil {
		return steps, err
	}
	if err := add(infer("infer without a token", "", nil)); err != nil {
		return steps, err
	}
	otherTok, otherStep, err := s.token(ctx, "other")
	if err := add(otherStep, err); err != nil {
		return steps, err
	}
	if err := add(infer("infer with a token lacking infer:mlp", otherTok, nil)); err != nil {
		return steps, err
	}
	// The free tier allows a burst of 5 at 1 request/s: keep calling until it says 429.
	for i := range 10 {
		st, err := infer(fmt.Sprintf("burst request %d on the free tier", i+1), demoTok, nil)
		if err != nil {
			return steps, err
		}
		if st.Status == http.StatusTooManyRequests {
			st.Name = "exceed the free tier"
			steps = append(steps, st)
			break
		}
	}
	revokeStep, err := s.revokeClient(ctx, "demo")
	if err := add(revokeStep, err); err != nil {
		return steps, err
	}
	// Revocation is immediate with Redis; without it the registry change is seen within 2 s.
	var revoked Step
	for deadline := time.Now().Add(5 * time.Second); ; {
		if revoked, err = infer("infer with the revoked client's token", demoTok, nil); err != nil {
			return steps, err
		}
		if revoked.Status == http.StatusUnauthorized || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	steps = append(steps, revoked)
	metrics, err := s.decisionMetrics(ctx)
	return append(steps, metrics), err
}

// token runs the client credentials grant with a real OAuth2 client, through the edge.
func (s *Stack) token(ctx context.Context, client string) (string, Step, error) {
	cc := clientcredentials.Config{ClientID: client, ClientSecret: s.Clients[client], TokenURL: s.EdgeURL + "/oauth2/token"}
	st := Step{Name: "get a token for " + client + " (client credentials)", Method: http.MethodPost, Path: "/oauth2/token"}
	tok, err := cc.Token(ctx)
	if err != nil {
		return "", st, fmt.Errorf("demo: token for %s: %w", client, err)
	}
	st.Status = http.StatusOK
	st.Comment = fmt.Sprintf("%s token, expires %s, scope %v", tok.TokenType, tok.Expiry.Format(time.RFC3339), tok.Extra("scope"))
	return tok.AccessToken, st, nil
}

// modelInput asks the model's metadata and builds one request with a batch of one.
func (s *Stack) modelInput(ctx context.Context, tok string) ([]byte, error) {
	st, err := s.call(ctx, "model metadata", http.MethodGet, "/v2/models/mlp", tok, nil, nil)
	if err != nil {
		return nil, err
	}
	if st.Status != http.StatusOK {
		return nil, fmt.Errorf("demo: model metadata: %d %s", st.Status, st.Body)
	}
	var meta struct {
		Inputs []struct {
			Name     string  `json:"name"`
			Datatype string  `json:"datatype"`
			Shape    []int64 `json:"shape"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(st.Body), &meta); err != nil || len(meta.Inputs) == 0 {
		return nil, fmt.Errorf("demo: model metadata %q: %v", st.Body, err)
	}
	in := meta.Inputs[0]
	shape, n := make([]int64, len(in.Shape)), int64(1)
	for i, d := range in.Shape {
		if d < 0 {
			d = 1
		}
		shape[i] = d
		n *= d
	}
	data := make([]float64, n)
	for i := range data {
		data[i] = float64(i%7) / 7
	}
	return json.Marshal(map[string]any{"inputs": []map[string]any{{
		"name": in.Name, "datatype": in.Datatype, "shape": shape, "data": data}}})
}

// call sends one request through the edge.
func (s *Stack) call(ctx context.Context, name, method, path, tok string, headers map[string]string, body []byte) (Step, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.EdgeURL+path, bytes.NewReader(body))
	if err != nil {
		return Step{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Step{}, fmt.Errorf("demo: %s: %w", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return Step{Name: name, Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// revokeClient revokes every token of a client: on all replicas through Redis with the
// `extauthz revoke` command when Redis runs, else by disabling the client in the registry.
func (s *Stack) revokeClient(ctx context.Context, client string) (Step, error) {
	st := Step{Name: "revoke client " + client, Method: "CLI"}
	var err error
	if s.redis != nil {
		st.Path = "extauthz revoke --client " + client
		_, err = s.cli(ctx, "revoke", "--client", client, "--config", s.ConfigPath)
	} else {
		st.Path = "extauthz clients disable --id " + client
		_, err = s.cli(ctx, "clients", "disable", "--file", s.ClientsPath, "--id", client)
	}
	if err != nil {
		return st, err
	}
	st.Status = http.StatusOK
	return st, nil
}

// decisionMetrics scrapes extauthz's decision counters.
func (s *Stack) decisionMetrics(ctx context.Context) (Step, error) {
	st := Step{Name: "decision counts", Method: http.MethodGet, Path: "/metrics (extauthz)"}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.AuthzHTTP+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("demo: metrics: %w", err)
	}
	defer resp.Body.Close()
	st.Status = resp.StatusCode
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "torchgate_authz_decisions_total{") {
			lines = append(lines, sc.Text())
		}
	}
	st.Body = strings.Join(lines, "\n")
	return st, sc.Err()
}

// Print writes the story for a person: one line per step with its status, then details.
func Print(w io.Writer, steps []Step) {
	for i, st := range steps {
		fmt.Fprintf(w, "%2d. %-46s %-6s %-28s → %d %s\n", i+1, st.Name, st.Method, st.Path, st.Status, http.StatusText(st.Status))
		detail := st.Comment
		switch {
		case st.Status == http.StatusOK && strings.HasPrefix(st.Path, "/v2/"):
			detail = "answer: " + truncate(st.Body, 160)
		case st.Status >= 400:
			for _, h := range []string{"WWW-Authenticate", "Retry-After", "RateLimit"} {
				if v := st.Header.Get(h); v != "" {
					detail += fmt.Sprintf("%s: %s  ", h, v)
				}
			}
			detail += truncate(st.Body, 120)
		case st.Body != "":
			detail = "\n      " + strings.ReplaceAll(st.Body, "\n", "\n      ")
		}
		if detail != "" {
			fmt.Fprintf(w, "      %s\n", detail)
		}
	}
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
