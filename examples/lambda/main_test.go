package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw/fakeprovider"
)

// TestStartWithoutProvider builds the function and starts it as Lambda
// would, without a remote provider: it fails at once with the message
// that says what to set.
func TestStartWithoutProvider(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "E2B_API_KEY=", "DAYTONA_API_KEY=", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), errNoProvider.Error()) {
		t.Errorf("start without a provider: %v\n%s", err, out)
	}
}

// TestEvents runs the function's handler, with the fake provider in place
// of a remote one, on the events of an API Gateway REST API, an HTTP API
// and a function URL: the guide's request and response, and 405 for GET.
func TestEvents(t *testing.T) {
	t.Setenv("COMPUTEMW_ALLOWED_ORIGINS", "https://app.example.com")
	fake := fakeprovider.New("fake")
	kit, err := newKit(fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	h := newHandler(kit)
	for _, file := range []string{"apigw-rest-v1.json", "apigw-http-v2.json", "function-url.json"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "transports", "computelambda", "testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				method string
				status int
			}{{"POST", 200}, {"GET", 405}} {
				payload := strings.Replace(string(raw), `"POST"`, `"`+tc.method+`"`, -1)
				out, err := h.Invoke(context.Background(), []byte(payload))
				if err != nil {
					t.Fatal(err)
				}
				var resp struct {
					StatusCode        int                 `json:"statusCode"`
					Headers           map[string]string   `json:"headers"`
					MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
					Body              string              `json:"body"`
				}
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatal(err)
				}
				var body map[string]any
				if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
					t.Fatalf("%s: %v", resp.Body, err)
				}
				acao := resp.Headers["Access-Control-Allow-Origin"]
				if v := resp.MultiValueHeaders["Access-Control-Allow-Origin"]; len(v) > 0 {
					acao = v[0]
				}
				switch {
				case resp.StatusCode != tc.status:
					t.Errorf("%s: %d %s", tc.method, resp.StatusCode, resp.Body)
				case tc.status == 200 && (body["output"] != "hi\n" || body["stderr"] != "" || body["executionTime"] == nil):
					t.Errorf("%s: %s", tc.method, resp.Body)
				case tc.status == 405 && body["code"] != "METHOD_NOT_ALLOWED":
					t.Errorf("%s: %s", tc.method, resp.Body)
				case acao != "https://app.example.com":
					t.Errorf("%s: Access-Control-Allow-Origin %q", tc.method, acao)
				}
			}
		})
	}
	if !fake.WaitLive(0, 5*time.Second) {
		t.Errorf("%d sandboxes live", fake.Live())
	}
}
