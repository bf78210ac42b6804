package computemcp_test

import (
	"bytes"
	"context"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

// pythonDataTemplate is where the python-data template is, and whether it
// is built with matplotlib.
func pythonDataTemplate() (string, bool) {
	dir := os.Getenv("COMPUTEMW_PYTHON_DATA_TEMPLATE")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "templates", "python-data")
	}
	b, err := os.ReadFile(filepath.Join(dir, "usr/share/computemw-template/packages"))
	return dir, err == nil && strings.Contains(string(b), "\npython3-matplotlib ")
}

// TestContexts drives code contexts in the session's sandbox through the
// Go SDK's client over real bwrap sandboxes: state kept between calls, an
// infinite loop interrupted once its output streamed (the context keeps
// its state), the last expression's value, an exception as a tool error
// with its traceback, restart and delete, a matplotlib chart as an
// image/png content block; bad input answers stable codes, and nothing is
// left running when the session ends.
func TestContexts(t *testing.T) {
	dir, charts := pythonDataTemplate()
	var lcfg local.Config
	open := map[string]any{}
	if charts {
		lcfg.Templates = map[string]string{"python-data": dir}
		open["template"] = "python-data"
	}
	kit := localKit(t, computemw.Config{}, lcfg)
	base, srv := serve(t, kit, computemcp.Options{MaxCodeBytes: 1 << 10})
	started := make(chan struct{}, 1)
	cs, err := computemcptest.Connect(t, base+"/api/mcp", nil, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			if strings.Contains(r.Params.Message, "looping") {
				select {
				case started <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		return computemcptest.Call(t, cs, name, args)
	}
	ok := func(name string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		res := call(name, args)
		if res.IsError {
			t.Fatalf("%s %v: %s", name, args, computemcptest.Text(res))
		}
		return res
	}
	wantCode := func(what string, res *mcp.CallToolResult, code computemw.Code) {
		t.Helper()
		if got := computemcptest.ErrorCode(res); got != string(code) {
			t.Errorf("%s: %q (%s), want %s", what, got, computemcptest.Text(res), code)
		}
	}

	wantCode("a context without a sandbox", call("create_context", map[string]any{"language": "python"}), computemw.CodeBadRequest)
	ok("open_sandbox", open)
	wantCode("no language", call("create_context", map[string]any{}), computemw.CodeBadRequest)
	id, _ := computemcptest.Structured(t, ok("create_context", map[string]any{"language": "python"}))["id"].(string)
	if id == "" {
		t.Fatal("create_context returned no id")
	}
	run := func(code string) *mcp.CallToolResult {
		t.Helper()
		return call("run_in_context", map[string]any{"contextId": id, "code": code})
	}

	if res := run("x = 41"); res.IsError {
		t.Fatalf("x = 41: %s", computemcptest.Text(res))
	}
	if res := run("print(x + 1)"); res.IsError || computemcptest.Text(res) != "42\n" {
		t.Fatalf("print(x + 1): %+v", res)
	}
	if res := run("x + 1"); res.IsError || computemcptest.Text(res) != "42" ||
		len(computemcptest.Structured(t, res)["results"].([]any)) != 1 {
		t.Fatalf("the last expression: %q %+v", computemcptest.Text(res), res.StructuredContent)
	}

	// An infinite loop, interrupted once its output arrived, raises
	// KeyboardInterrupt; x is still there.
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		p := &mcp.CallToolParams{Name: "run_in_context", Arguments: map[string]any{"contextId": id,
			"code": "print('looping', flush=True)\nwhile True: pass", "timeout": 240000}}
		p.SetProgressToken("loop")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := cs.CallTool(ctx, p)
		if err != nil {
			res = &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}
		}
		done <- res
	}()
	<-started
	ok("interrupt_context", map[string]any{"contextId": id})
	res := <-done
	wantCode("the interrupted loop", res, computemw.CodeExecution)
	if d, _ := computemcptest.Structured(t, res)["details"].(map[string]any); d["name"] != "KeyboardInterrupt" {
		t.Fatalf("the interrupted loop: %s", computemcptest.Text(res))
	}
	if res := run("print(x)"); res.IsError || computemcptest.Text(res) != "41\n" {
		t.Fatalf("x after the interrupt: %s", computemcptest.Text(res))
	}

	res = run("def f():\n    return 1 / 0\nf()")
	wantCode("an exception", res, computemw.CodeExecution)
	if text := computemcptest.Text(res); !strings.Contains(text, "ZeroDivisionError") || !strings.Contains(text, "in f") {
		t.Errorf("an exception's text has no traceback: %q", text)
	}

	wantCode("unknown context", call("run_in_context", map[string]any{"contextId": "ctx-nope", "code": "1"}), computemw.CodeNotFound)
	wantCode("unknown context interrupted", call("interrupt_context", map[string]any{"contextId": "ctx-nope"}), computemw.CodeNotFound)
	wantCode("unknown context deleted", call("delete_context", map[string]any{"contextId": "ctx-nope"}), computemw.CodeNotFound)
	wantCode("code too large", run(strings.Repeat("x", 1<<10+1)), computemw.CodePayloadTooLarge)
	wantCode("no context", call("run_in_context", map[string]any{"code": "1"}), computemw.CodeBadRequest)

	t.Run("chart", func(t *testing.T) {
		computemwtest.Require(t, charts, "the python-data template has no matplotlib (rebuild it: make template-python-data): "+dir)
		res := run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()")
		if res.IsError {
			t.Fatalf("chart: %s", computemcptest.Text(res))
		}
		var images []*mcp.ImageContent
		for _, c := range res.Content {
			if img, ok := c.(*mcp.ImageContent); ok {
				images = append(images, img)
			}
		}
		if len(images) != 1 || images[0].MIMEType != "image/png" {
			t.Fatalf("chart: %d images in %+v", len(images), res.Content)
		}
		if _, err := png.Decode(bytes.NewReader(images[0].Data)); err != nil {
			t.Fatalf("the image/png does not decode: %v", err)
		}
	})

	// A second context, listed; restart loses the state; delete ends both
	// interpreters.
	other, _ := computemcptest.Structured(t, ok("create_context", map[string]any{"language": "python"}))["id"].(string)
	if list := computemcptest.Structured(t, ok("list_contexts", nil))["contexts"].([]any); len(list) != 2 {
		t.Fatalf("list_contexts: %v", list)
	}
	ok("restart_context", map[string]any{"contextId": id})
	if res := run("x"); computemcptest.ErrorCode(res) != string(computemw.CodeExecution) || !strings.Contains(computemcptest.Text(res), "NameError") {
		t.Fatalf("x after restart: %s", computemcptest.Text(res))
	}
	// The names of the sandbox's processes, with the shell's builtins only.
	ps := func() string {
		t.Helper()
		cmd := "for f in /proc/[0-9]*/comm; do read -r c < \"$f\" && echo \"$c\"; done"
		out, _ := computemcptest.Structured(t, ok("run_command", map[string]any{"command": cmd}))["stdout"].(string)
		return out
	}
	if out := ps(); !strings.Contains(out, "python") {
		t.Fatalf("no interpreter among the processes: %q", out)
	}
	ok("delete_context", map[string]any{"contextId": id})
	ok("delete_context", map[string]any{"contextId": other})
	if list := computemcptest.Structured(t, ok("list_contexts", nil))["contexts"].([]any); len(list) != 0 {
		t.Fatalf("list_contexts after delete: %v", list)
	}
	if out := ps(); strings.Contains(out, "python") {
		t.Fatalf("processes after delete: %q", out)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	computemcptest.WaitFor(t, "the session's sandbox destroyed", func() bool { return kit.Stats().Live == 0 && srv.Sessions() == 0 })
}

// TestContextsUnsupported: in a sandbox whose provider holds no code
// contexts, the context tools answer EXECUTION_ERROR "not supported".
func TestContextsUnsupported(t *testing.T) {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("plain")},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	base, _ := serve(t, kit, computemcp.Options{})
	cs, err := computemcptest.Connect(t, base+"/api/mcp", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if res := computemcptest.Call(t, cs, "open_sandbox", nil); res.IsError {
		t.Fatalf("open_sandbox: %s", computemcptest.Text(res))
	}
	for name, args := range map[string]map[string]any{
		"create_context": {"language": "python"},
		"run_in_context": {"contextId": "ctx-1", "code": "1"},
		"list_contexts":  nil,
	} {
		res := computemcptest.Call(t, cs, name, args)
		if computemcptest.ErrorCode(res) != string(computemw.CodeExecution) || !strings.Contains(computemcptest.Text(res), "not supported") {
			t.Errorf("%s: %s, want EXECUTION_ERROR not supported", name, computemcptest.Text(res))
		}
	}
}
