//go:build !(js && wasm)

package cfworker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/internal/workerdtest"
)

// upstream is the server the test Worker's fetches reach: /redirect
// redirects, /hang answers only when its caller goes away, /wait once
// release is closed, /echo says what it got.
func upstream(t *testing.T, release <-chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/redirect":
			http.Redirect(w, r, "/target", http.StatusFound)
		case "/hang":
			<-r.Context().Done()
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+r.Host+" "+r.Header.Get("X-Test")+" "+string(b))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestOnWorkerd runs the test Worker (internal/testworker) on workerd:
// requests and answers cross the bridge whole, bodies are bounded both
// ways, a panic is a 500, and outbound calls go through the Worker's
// fetch without following redirects and end with their context.
func TestOnWorkerd(t *testing.T) {
	workerdtest.Binary(t)
	dir, err := workerdtest.Build(filepath.Join("internal", "testworker"))
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	up := upstream(t, release)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	base := workerdtest.Start(t, dir, nil, workerdtest.Outbound{Addr: strings.TrimPrefix(up.URL, "http://")})

	t.Run("echo", func(t *testing.T) {
		resp, body := do(t, http.MethodPost, base+"/echo?q=x%20y", strings.NewReader("hello"), map[string]string{"X-Test": "in"})
		if resp.StatusCode != http.StatusCreated || string(body) != "hello" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("X-Echo") != "in" || h.Get("X-Query") != "x y" || h.Get("X-Host") != strings.TrimPrefix(base, "http://") || h.Get("X-Remote") == "" {
			t.Errorf("headers %v", h)
		}
		if multi := strings.Join(h.Values("X-Multi"), ","); multi != "one,two" && multi != "one, two" {
			t.Errorf("X-Multi %q", multi)
		}
	})
	t.Run("request bound", func(t *testing.T) {
		big := strings.Repeat("b", 2048)
		resp, body := do(t, http.MethodPost, base+"/echo", strings.NewReader(big), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "PAYLOAD_TOO_LARGE") {
			t.Errorf("with a Content-Length past the bound: %d %s", resp.StatusCode, body)
		}
		// Without a length the handler's read stops at the bound.
		resp, body = do(t, http.MethodPost, base+"/echo", io.MultiReader(strings.NewReader(big)), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("a chunked body past the bound: %d %s", resp.StatusCode, body)
		}
		resp, body = do(t, http.MethodPost, base+"/echo", strings.NewReader(big[:1024]), nil)
		if resp.StatusCode != http.StatusCreated || len(body) != 1024 {
			t.Errorf("a body of the bound: %d, %d bytes", resp.StatusCode, len(body))
		}
	})
	t.Run("response bound", func(t *testing.T) {
		if resp, body := do(t, http.MethodGet, base+"/big?n=4096", nil, nil); resp.StatusCode != http.StatusOK || len(body) != 4096 {
			t.Errorf("an answer of the bound: %d, %d bytes", resp.StatusCode, len(body))
		}
		if resp, body := do(t, http.MethodGet, base+"/big?n=4097", nil, nil); resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "UNAVAILABLE") {
			t.Errorf("an answer past the bound: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("panic and no content", func(t *testing.T) {
		if resp, body := do(t, http.MethodGet, base+"/panic", nil, nil); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "INTERNAL_ERROR") {
			t.Errorf("a panic: %d %s", resp.StatusCode, body)
		}
		if resp, body := do(t, http.MethodGet, base+"/empty", nil, nil); resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Errorf("204: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("streaming", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		// The handler is still waiting for the upstream: this line came
		// out before it returned.
		if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
			t.Fatalf("first line %q: %v", line, err)
		}
		close(release)
		if rest, err := io.ReadAll(br); err != nil || string(rest) != "second\n" {
			t.Errorf("the rest %q: %v", rest, err)
		}

		// A stream past the bound is cut: the client never gets a whole
		// answer.
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream-big", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("a stream past the bound arrived whole: %d %q", resp.StatusCode, b)
			}
		}
	})
	fetch := func(t *testing.T, query string, body io.Reader) map[string]any {
		t.Helper()
		method := http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
		resp, b := do(t, method, base+"/fetch?"+query, body, nil)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %q: %v", resp.StatusCode, b, err)
		}
		return out
	}
	t.Run("fetch", func(t *testing.T) {
		out := fetch(t, "method=POST&path=/echo", bytes.NewReader([]byte("payload")))
		if out["status"] != float64(200) || out["body"] != "POST upstream.test out payload" {
			t.Errorf("a POST through fetch: %v", out)
		}
		if out := fetch(t, "method=GET&path=/redirect", nil); out["status"] != float64(http.StatusFound) || out["location"] != "/target" {
			t.Errorf("a redirect was followed or lost: %v", out)
		}
		if out := fetch(t, "method=GET&path=/hang&timeout=50ms", nil); out["deadline"] != true {
			t.Errorf("a call past its context's deadline: %v", out)
		}
	})
}
