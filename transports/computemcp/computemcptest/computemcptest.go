// Package computemcptest checks an MCP endpoint of computemw from the
// outside, with the official Go SDK's client: the framework tests of the
// adapters and the transport's own tests drive the same [Suite], whatever
// serves the endpoint.
package computemcptest

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// headerTransport adds a header to every request.
type headerTransport struct {
	header http.Header
	base   http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.header {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// Client returns an HTTP client that sends header with every request.
func Client(header http.Header) *http.Client {
	return &http.Client{Transport: headerTransport{header: header, base: http.DefaultTransport}}
}

// Connect opens an MCP session on endpoint with the Go SDK's client,
// sending header with every request; the session is closed at cleanup.
// opts may be nil.
func Connect(t testing.TB, endpoint string, header http.Header, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "computemcptest", Version: "1"}, opts)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: Client(header),
		DisableStandaloneSSE: true}, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}

// Call calls tool name with args and returns its result; a protocol error
// fails the test (a tool error is a result with IsError).
func Call(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	return CallWith(t, cs, &mcp.CallToolParams{Name: name, Arguments: args})
}

// CallWith is [Call] with the request's params.
func CallWith(t testing.TB, cs *mcp.ClientSession, p *mcp.CallToolParams) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, p)
	if err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	return res
}

// Structured returns the structured content of res as a map.
func Structured(t testing.TB, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	m, ok := res.StructuredContent.(map[string]any)
	if !ok {
		t.Fatalf("structured content is %T: %+v", res.StructuredContent, res)
	}
	return m
}

// ErrorCode returns the kit's code of a tool error, or "" when res is not
// one.
func ErrorCode(res *mcp.CallToolResult) string {
	if !res.IsError {
		return ""
	}
	m, _ := res.StructuredContent.(map[string]any)
	code, _ := m["code"].(string)
	return code
}

// Text joins the text content of res.
func Text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// Tools are the tools every endpoint lists.
var Tools = []string{"close_sandbox", "create_context", "delete_context", "interrupt_context", "list_contexts", "list_files", "open_sandbox", "read_file", "restart_context", "run_code", "run_command", "run_in_context", "write_file"}

// Suite drives endpoint, an MCP endpoint of kit served on a real server,
// through what an agent does: initialize, list the tools, run a Python
// program and get its output (streamed as progress notifications while it
// runs, and counted in the kit's Prometheus metrics), open a sandbox and
// keep a file in it across calls, read, list, run a command in it, close
// it; then bad input — an unknown argument, code over the limit, a file
// tool without a sandbox — answers tool errors with stable codes, and
// nothing is left running when the session ends. kit's provider must run
// python and sh (the local provider); its Metrics must be prommetrics',
// and its MaxTimeout under an hour.
// header is sent with every request.
func Suite(t *testing.T, kit *computemw.Kit, endpoint string, header http.Header) {
	t.Helper()
	progress := make(chan *mcp.ProgressNotificationParams, 64)
	cs, err := Connect(t, endpoint, header, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			select {
			case progress <- r.Params:
			default:
			}
		},
	})
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if info := cs.InitializeResult().ServerInfo; info.Name == "" || info.Version == "" {
		t.Errorf("initialize: server info %+v", info)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, Tools) {
		t.Errorf("tools/list: %v, want %v", names, Tools)
	}

	executions := func() float64 {
		return counter(t, kit, "compute_executions_total", map[string]string{"language": "python", "status": "success"})
	}
	before := executions()
	p := &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"language": "python", "code": "print(6*7)"}}
	p.SetProgressToken("run-1")
	res := CallWith(t, cs, p)
	if res.IsError || Structured(t, res)["stdout"] != "42\n" || !strings.Contains(Text(res), "42") {
		t.Fatalf("run_code: %+v %s", res.StructuredContent, Text(res))
	}
	// The output may come in several chunks (print writes its parts one
	// by one): each is a notification of the call's token.
	var streamed string
	for streamed != "42\n" && ctx.Err() == nil {
		select {
		case n := <-progress:
			if n.ProgressToken != "run-1" || n.Meta["stream"] != "stdout" || n.Progress != float64(len(streamed+n.Message)) {
				t.Errorf("progress notification: %+v", n)
			}
			streamed += n.Message
		case <-ctx.Done():
			t.Errorf("progress notifications of the program's output: %q", streamed)
		}
	}
	if after := executions(); after != before+1 {
		t.Errorf("compute_executions_total{language=python,status=success}: %v after one run, was %v", after, before)
	}

	// A sandbox held across calls.
	res = Call(t, cs, "open_sandbox", nil)
	id, _ := Structured(t, res)["sandboxId"].(string)
	if res.IsError || id == "" {
		t.Fatalf("open_sandbox: %+v", res.StructuredContent)
	}
	if res = Call(t, cs, "write_file", map[string]any{"path": "notes/hello.txt", "content": "kept between calls"}); res.IsError {
		t.Fatalf("write_file: %+v", res.StructuredContent)
	}
	res = Call(t, cs, "run_code", map[string]any{"language": "python", "code": "print(open('notes/hello.txt').read().upper())"})
	if m := Structured(t, res); m["stdout"] != "KEPT BETWEEN CALLS\n" || m["sandboxId"] != id {
		t.Errorf("run_code in the session's sandbox: %+v", m)
	}
	if res = Call(t, cs, "read_file", map[string]any{"path": "notes/hello.txt"}); Structured(t, res)["content"] != "kept between calls" {
		t.Errorf("read_file: %+v", res.StructuredContent)
	}
	if res = Call(t, cs, "list_files", map[string]any{"path": "notes"}); !strings.Contains(Text(res), "hello.txt") {
		t.Errorf("list_files: %s", Text(res))
	}
	res = Call(t, cs, "run_command", map[string]any{"command": "cat notes/hello.txt; echo oops >&2; exit 3"})
	if m := Structured(t, res); res.IsError || m["stdout"] != "kept between calls" || m["stderr"] != "oops\n" || m["exitCode"] != float64(3) || m["success"] != false {
		t.Errorf("run_command: %+v", m)
	}
	if res = Call(t, cs, "close_sandbox", nil); Structured(t, res)["closed"] != true {
		t.Errorf("close_sandbox: %+v", res.StructuredContent)
	}

	// Bad input: tool errors with the kit's codes, and nothing runs.
	for _, c := range []struct {
		tool string
		args map[string]any
		code string
	}{
		{"run_code", map[string]any{"language": "python", "code": "print(1)", "nope": true}, "BAD_REQUEST"},
		{"run_code", map[string]any{"language": "python", "code": 7}, "BAD_REQUEST"},
		{"run_code", map[string]any{"language": "python"}, "BAD_REQUEST"},
		{"run_code", map[string]any{"language": "python", "code": "#" + strings.Repeat("x", 300<<10)}, "PAYLOAD_TOO_LARGE"},
		{"run_code", map[string]any{"language": "cobol-77", "code": "x"}, "EXECUTION_ERROR"},
		{"run_command", map[string]any{"command": "true", "timeout": int64(1) << 60}, "BAD_REQUEST"},
		{"run_command", map[string]any{"command": "true", "timeout": 3600000}, "BAD_REQUEST"},
		{"read_file", map[string]any{"path": "notes/hello.txt"}, "BAD_REQUEST"},
	} {
		if res := Call(t, cs, c.tool, c.args); ErrorCode(res) != c.code || !strings.HasPrefix(Text(res), c.code+": ") {
			t.Errorf("%s %.80v: %v %+v, want a tool error %s", c.tool, c.args, res.IsError, res.StructuredContent, c.code)
		}
	}
	if err := cs.Close(); err != nil {
		t.Errorf("closing the session: %v", err)
	}
	WaitFor(t, "every sandbox destroyed", func() bool { return kit.Stats().Live == 0 })
}

// counter is the value of the series of name whose labels include
// labels, or 0 when there is none yet.
func counter(t testing.TB, kit *computemw.Kit, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := computemwtest.Registry(t, kit).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// WaitFor polls cond, a cheap in-process check, until it holds or 10s
// pass.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

//go:embed nodeclient.mjs
var nodeClient []byte

// NodeSummary is what the TypeScript client of [Node] reports.
type NodeSummary struct {
	// Unauthorized and Challenge are the status and WWW-Authenticate of
	// an initialize sent without the token (when a token was given).
	Unauthorized int      `json:"unauthorized"`
	Challenge    string   `json:"challenge"`
	Tools        []string `json:"tools"`
	// Output is run_code's stdout of print(6*7); Streamed what its
	// progress notifications carried, ProgressTokens how many came.
	Output         string `json:"output"`
	Streamed       string `json:"streamed"`
	ProgressTokens int    `json:"progressTokens"`
	// Kept is what a program read of a file written in the session's
	// sandbox by an earlier call.
	Kept string `json:"kept"`
	// BadArgCode and TooLargeCode are the codes of the tool errors of an
	// unknown argument and of code over the limit.
	BadArgCode   string `json:"badArgCode"`
	TooLargeCode string `json:"tooLargeCode"`
	Error        string `json:"error"`
}

// NodeSDK returns the node binary and the directory of the npm package
// @modelcontextprotocol/sdk that scripts/setup-node-mcp.sh installs into
// .cache/node-mcp of the module at root (make setup-test); the test skips
// without them, and fails under CI=true.
func NodeSDK(t testing.TB, root string) (node, sdk string) {
	t.Helper()
	node, err := exec.LookPath("node")
	sdk = filepath.Join(root, ".cache", "node-mcp", "node_modules", "@modelcontextprotocol", "sdk")
	_, statErr := os.Stat(filepath.Join(sdk, "package.json"))
	computemwtest.Require(t, err == nil && statErr == nil,
		"node and the npm package @modelcontextprotocol/sdk are needed: run make setup-test")
	return node, sdk
}

// Node drives endpoint with the official TypeScript MCP client (see
// nodeclient.mjs): without token, an anonymous client; with one, first an
// initialize without it (its 401 is reported), then everything with it.
// It runs two Python programs through run_code.
func Node(t testing.TB, node, sdk, endpoint, token string) NodeSummary {
	t.Helper()
	script := filepath.Join(t.TempDir(), "client.mjs")
	if err := os.WriteFile(script, nodeClient, 0o600); err != nil {
		t.Fatal(err)
	}
	job, _ := json.Marshal(map[string]any{"url": endpoint, "token": token, "timeoutMs": 40000})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, string(job))
	cmd.Env = append(os.Environ(), "MCP_SDK="+sdk)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var s NodeSummary
	if jerr := json.Unmarshal(out, &s); jerr != nil {
		t.Fatalf("node client: %v, output %q (%v)\n%s", err, out, jerr, stderr.String())
	}
	if err != nil || s.Error != "" {
		t.Fatalf("node client: %v: %s\n%s", err, s.Error, stderr.String())
	}
	return s
}

// Streams checks that a run's output reaches the client while the program
// runs: a program that prints a line and then never ends is seen through
// its progress notification, then cancelled by the client, and its
// one-off sandbox is destroyed.
func Streams(t *testing.T, kit *computemw.Kit, endpoint string, header http.Header) {
	t.Helper()
	started := make(chan string, 16)
	cs, err := Connect(t, endpoint, header, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			select {
			case started <- r.Params.Message:
			default:
			}
		},
	})
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		p := &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"language": "python",
			"code": "print('started', flush=True)\nwhile True: pass", "timeout": 240000}}
		p.SetProgressToken("live")
		_, err := cs.CallTool(callCtx, p)
		done <- err
	}()
	select {
	case m := <-started:
		if !strings.HasPrefix(m, "started") {
			t.Errorf("first progress notification: %q", m)
		}
	case <-ctx.Done():
		t.Errorf("no output while the program ran")
	}
	stop()
	<-done
	WaitFor(t, "the cancelled program's sandbox destroyed", func() bool { return kit.Stats().Live == 0 })
	if err := cs.Close(); err != nil {
		t.Errorf("closing the session: %v", err)
	}
}
