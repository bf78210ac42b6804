package computemcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

const secret = "computemcp-test-secret-of-at-least-32-bytes"

// token mints a bearer token for sub.
func token(t *testing.T, sub string) http.Header {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "role": "developer", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Authorization": {"Bearer " + s}}
}

// authKit is a local kit whose every operation but the probes needs a
// bearer token.
func authKit(t *testing.T) *computemw.Kit {
	t.Helper()
	return localKit(t, computemw.Config{Policies: []computemw.Policy{authKitPolicy(t)}})
}

// authKitPolicy is the authenticator of tokens signed with secret.
func authKitPolicy(t *testing.T) *auth.Authenticator {
	t.Helper()
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
		Keys: []auth.JWTKey{{Algorithm: "HS256", Key: []byte(secret)}}}})
	if err != nil {
		t.Fatal(err)
	}
	return authn
}

// initialize is a raw initialize request.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func postRaw(t *testing.T, url, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestBearerToken: with an authenticator, a call without a token is 401
// with a WWW-Authenticate challenge naming the protected-resource
// metadata (RFC 9728), which is served where it points and names the
// endpoint; the Go SDK's client is refused without a token and goes the
// whole way with one; another principal cannot use the session.
func TestBearerToken(t *testing.T) {
	kit := authKit(t)
	base, _ := serve(t, kit, computemcp.Options{AuthorizationServers: []string{"https://issuer.example"}})
	endpoint := base + "/api/mcp"

	resp, body := postRaw(t, endpoint, initialize, nil)
	wantMeta := base + "/.well-known/oauth-protected-resource/api/mcp"
	if resp.StatusCode != 401 || !strings.Contains(body, `"code":"UNAUTHORIZED"`) {
		t.Fatalf("without a token: %d %s", resp.StatusCode, body)
	}
	if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `resource_metadata="`+wantMeta+`"`) {
		t.Errorf("WWW-Authenticate: %q, want resource_metadata=%q", ch, wantMeta)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, wantMeta, nil)
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		BearerMethods        []string `json:"bearer_methods_supported"`
	}
	err = json.NewDecoder(mresp.Body).Decode(&meta)
	mresp.Body.Close()
	if err != nil || mresp.StatusCode != 200 || meta.Resource != endpoint ||
		len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != "https://issuer.example" || len(meta.BearerMethods) != 1 {
		t.Errorf("metadata: %d %+v %v", mresp.StatusCode, meta, err)
	}
	if resp, body = postRaw(t, endpoint, initialize, http.Header{"Authorization": {"Bearer not-a-token"}}); resp.StatusCode != 401 ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Errorf("bad token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}

	if _, err := computemcptest.Connect(t, endpoint, nil, nil); err == nil {
		t.Errorf("the Go client connected without a token")
	}

	alice := token(t, "alice")
	cs, err := computemcptest.Connect(t, endpoint, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Bob cannot use Alice's session.
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	bob := token(t, "bob")
	bob.Set("Mcp-Session-Id", cs.ID())
	bob.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
	if resp, body = postRaw(t, endpoint, list, bob); resp.StatusCode != 404 || !strings.Contains(body, `"code":"NOT_FOUND"`) {
		t.Errorf("another principal's session: %d %s", resp.StatusCode, body)
	}
	_ = cs.Close()

	computemcptest.Suite(t, kit, endpoint, alice)
}

// TestPrincipalFromApplication: an application that authenticated the
// caller itself (computemw.WithPrincipal in its own middleware) passes
// the principal on to the endpoint, as to the kit's routes.
func TestPrincipalFromApplication(t *testing.T) {
	kit := authKit(t)
	srv := computemcp.New(kit, computemcp.Options{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := computemw.WithPrincipal(r.Context(), computemw.Principal{ID: "app-user", Role: "developer"})
		srv.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
	})
	cs, err := computemcptest.Connect(t, hs.URL, nil, nil)
	if err != nil {
		t.Fatalf("initialize as the application's principal: %v", err)
	}
	if res := computemcptest.Call(t, cs, "run_command", map[string]any{"command": "echo hi"}); computemcptest.Structured(t, res)["stdout"] != "hi\n" {
		t.Errorf("run_command: %+v", res.StructuredContent)
	}
	_ = cs.Close()
}
