package computelambda_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// TestRuntimeLoop runs the handler the way a function runs it —
// lambda.StartHandler, speaking the Lambda runtime API — in a process of
// its own, against a runtime API on loopback that hands it the function
// URL event and takes its response.
func TestRuntimeLoop(t *testing.T) {
	if os.Getenv("COMPUTELAMBDA_RUNTIME_CHILD") == "1" {
		kit, _ := fakeKit(t)
		lambda.StartHandler(handlerOver(kit)) // serves until the parent kills it
		return
	}
	event, err := os.ReadFile("testdata/function-url.json")
	if err != nil {
		t.Fatal(err)
	}
	responses := make(chan []byte, 1)
	var handed atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			if handed.Swap(true) { // one invocation only: the next waits until the end
				<-r.Context().Done()
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-west-2:123456789012:function:computemw")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(event)
		case r.Method == http.MethodPost && r.URL.Path == "/2018-06-01/runtime/invocation/req-1/response":
			b, _ := io.ReadAll(r.Body)
			responses <- b
			w.WriteHeader(http.StatusAccepted)
		default:
			b, _ := io.ReadAll(r.Body)
			t.Errorf("unexpected runtime API call %s %s: %s", r.Method, r.URL.Path, b)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(api.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRuntimeLoop$")
	cmd.Env = append(os.Environ(), "COMPUTELAMBDA_RUNTIME_CHILD=1",
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	select {
	case b := <-responses:
		var resp struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("response %s: %v", b, err)
		}
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"output":"hi\n"`) ||
			resp.Headers["Access-Control-Allow-Origin"] != allowedOrigin {
			t.Errorf("response %s", b)
		}
	case <-ctx.Done():
		t.Fatalf("no response from the function\n%s", logs.String())
	}
}
