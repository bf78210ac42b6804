package modal_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// Through the kit over HTTP: an execution, then Modal's throttling of a
// create answered 429 with Modal's Retry-After, and a refused token 503.
func TestKitOverNetHTTP(t *testing.T) {
	p, fake := newProvider(t, modal.Options{CleanupWindow: 200 * time.Millisecond})
	url := kitServer(t, p) + computemwtest.Prefix
	post := func(body string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Post(url+"/exec", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post(`{"command":"echo out; echo err >&2; exit 2","env":{"X":"y"}}`); resp.StatusCode != 200 ||
		!strings.Contains(body, `"output":"out\n"`) || !strings.Contains(body, `"exitCode":2`) {
		t.Errorf("/exec: %d %s", resp.StatusCode, body)
	}
	fake.Inject(modalfake.Fault{Method: "SandboxCreateV2", Code: codes.ResourceExhausted, RetryAfter: 9 * time.Second})
	if resp, body := post(`{"command":"true"}`); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "9" || !strings.Contains(body, "RATE_LIMITED") {
		t.Errorf("/exec while Modal throttles: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	fake.Inject(modalfake.Fault{Method: "SandboxCreateV2", Code: codes.Unauthenticated})
	if resp, body := post(`{"command":"true"}`); resp.StatusCode != 503 || strings.Contains(body, fake.TokenSecret) {
		t.Errorf("/exec with a refused token: %d %s", resp.StatusCode, body)
	}
}
