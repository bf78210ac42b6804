package e2b_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
)

// The kit's creates ask for secure, so E2B issues an envd access token and
// envd answers only requests that carry it; a create that does not ask
// gets no token (the fake's envd is then open, as E2B's is).
func TestCreateIsSecured(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	if !f.Secured(sb.ID()) {
		t.Fatal("the create did not ask for secure: the sandbox's envd has no access token")
	}
	c := f.Client()
	defer c.CloseIdleConnections()
	raw := func(body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", f.APIURL()+"/sandboxes", strings.NewReader(body))
		req.Header.Set("X-API-Key", f.APIKey())
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %v", body, resp.StatusCode, err)
		}
		t.Cleanup(func() { _ = p.Kill(context.Background(), m["sandboxID"].(string)) })
		return m
	}
	if m := raw(`{"templateID":"base"}`); m["envdAccessToken"] != nil {
		t.Errorf("a create without secure got a token: %v", m)
	}
	if m := raw(`{"templateID":"base","secure":true}`); m["envdAccessToken"] == nil || m["envdAccessToken"] == "" {
		t.Errorf("a create with secure got no token: %v", m)
	}
}
