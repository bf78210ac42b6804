package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/internal/exampletest"
)

const pkg = "github.com/computemw/kit/examples/playground"

// nodeModules is where scripts/setup-node-playground.sh installs
// xterm.js, or "" when it did not.
func nodeModules() string {
	_, file, _, _ := runtime.Caller(0)
	nm := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "node-playground", "node_modules")
	if _, err := os.Stat(filepath.Join(nm, "@xterm", "xterm", "package.json")); err != nil {
		return ""
	}
	return nm
}

// swaggerUIModules is where scripts/setup-node-swagger-ui.sh installs
// swagger-ui-dist, or "" when it did not.
func swaggerUIModules() string {
	_, file, _, _ := runtime.Caller(0)
	nm := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "node-swagger-ui", "node_modules")
	if _, err := os.Stat(filepath.Join(nm, "swagger-ui-dist", "package.json")); err != nil {
		return ""
	}
	return nm
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServesPageAndAssets checks what the page loads: its own embedded
// files, xterm.js from the npm install (or a 404 saying how to install
// it), and nothing else under /vendor/.
func TestServesPageAndAssets(t *testing.T) {
	// Without xterm.js first: an empty directory stands for a machine
	// where it was not installed.
	srv := exampletest.Start(t, pkg, "PLAYGROUND_XTERM="+t.TempDir(), "PLAYGROUND_SWAGGER_UI="+t.TempDir())
	if st, body := get(t, srv.URL+"/", nil); st != 200 || !strings.Contains(body, "computemw playground") {
		t.Fatalf("GET /: %d %.200s", st, body)
	}
	for _, p := range []string{"/static/app.js", "/static/app.css"} {
		if st, _ := get(t, srv.URL+p, nil); st != 200 {
			t.Errorf("GET %s: %d", p, st)
		}
	}
	for _, p := range []string{"/vendor/package.json", "/vendor/..%2f..%2fgo.mod", "/static/../main.go"} {
		if st, body := get(t, srv.URL+p, nil); st != 404 || strings.Contains(body, "module ") {
			t.Errorf("GET %s: %d %.100s", p, st, body)
		}
	}
	if st, body := get(t, srv.URL+"/vendor/xterm.js", nil); st != 404 || !strings.Contains(body, "make setup-playground") {
		t.Errorf("missing xterm.js: %d %s", st, body)
	}
	if st, body := get(t, srv.URL+"/docs", nil); st != 200 || !strings.Contains(body, "/vendor/swagger-ui-bundle.js") || !strings.Contains(body, "/static/docs.js") {
		t.Errorf("GET /docs: %d %.200s", st, body)
	}
	if st, body := get(t, srv.URL+"/vendor/swagger-ui-bundle.js", nil); st != 404 || !strings.Contains(body, "make setup-playground") {
		t.Errorf("missing Swagger UI: %d %.100s", st, body)
	}
	srv.Stop(t)
	if su := swaggerUIModules(); su != "" {
		srv = exampletest.Start(t, pkg, "PLAYGROUND_XTERM="+t.TempDir(), "PLAYGROUND_SWAGGER_UI="+su)
		for name, want := range map[string]string{"swagger-ui-bundle.js": "SwaggerUIBundle", "swagger-ui.css": ".swagger-ui"} {
			if st, body := get(t, srv.URL+"/vendor/"+name, nil); st != 200 || !strings.Contains(body, want) {
				t.Errorf("GET /vendor/%s: %d", name, st)
			}
		}
		srv.Stop(t)
	}
	nm := nodeModules()
	if nm != "" {
		srv = exampletest.Start(t, pkg, "PLAYGROUND_XTERM="+nm)
		if st, body := get(t, srv.URL+"/vendor/xterm.js", nil); st != 200 || !strings.Contains(body, "Terminal") {
			t.Errorf("GET /vendor/xterm.js: %d", st)
		}
		srv.Stop(t)
	}
}

// protocols are the WebSocket subprotocols the page offers with token.
func protocols(token string) []string {
	return []string{"computemw", "computemw.token." + base64.RawURLEncoding.EncodeToString([]byte(token))}
}

// TestTokenReachesWebSocket runs the playground with an API key: the API
// refuses a caller without it; the page's WebSocket, which carries it as
// a subprotocol, is let in and can run code, while a token in the URL,
// which proxies log, is not accepted; and the metrics at the root want
// the key and the Host that /api/metrics wants.
func TestTokenReachesWebSocket(t *testing.T) {
	srv := exampletest.Start(t, pkg, "PLAYGROUND_API_KEY=s3cret-key")
	if st, body := get(t, srv.URL+"/api/languages", nil); st != 401 || !strings.Contains(body, "UNAUTHORIZED") {
		t.Errorf("no token: %d %s", st, body)
	}
	st, body := get(t, srv.URL+"/api/languages", http.Header{"X-Api-Key": {"s3cret-key"}})
	var langs httpapi.LanguagesResponse
	if st != 200 || json.Unmarshal([]byte(body), &langs) != nil || len(langs.Providers) != 1 {
		t.Fatalf("with the key: %d %s", st, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/ws"
	for name, opts := range map[string]*websocket.DialOptions{
		"a wrong token":                 {Subprotocols: protocols("wrong")},
		"a token that is not base64url": {Subprotocols: []string{"computemw", "computemw.token.s3cret-key!"}},
		"no token":                      {Subprotocols: []string{"computemw"}},
	} {
		if _, resp, err := websocket.Dial(ctx, ws, opts); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("%s: %v %v", name, resp, err)
		}
	}
	if _, resp, err := websocket.Dial(ctx, ws+"?token=s3cret-key", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("the token in the URL: %v %v", resp, err)
	}
	c, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{Subprotocols: protocols("s3cret-key")})
	if err != nil {
		t.Fatalf("dial with the token: %v", err)
	}
	defer c.CloseNow()
	// The server chose the page's subprotocol, which a browser requires,
	// and not the one holding the token.
	if p := c.Subprotocol(); p != "computemw" {
		t.Errorf("subprotocol %q, want computemw", p)
	}
	for _, m := range []string{`{"type":"create-sandbox"}`, `{"type":"execute","command":"echo authed"}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for !slices.Contains(got, "execution-complete") {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v (so far %v)", err, got)
		}
		var m httpapi.WSMessage
		_ = json.Unmarshal(b, &m)
		got = append(got, m.Type)
		if m.Type == "error" || (m.Type == "output" && m.Data != "authed\n") {
			t.Fatalf("%s", b)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	exampletest.CheckMetrics(t, srv, map[string]string{"X-API-Key": "s3cret-key"}, "/metrics", "/api/metrics")
	srv.Stop(t)
}
