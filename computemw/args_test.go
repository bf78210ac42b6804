package computemw_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
)

func TestValidateArgs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"none", nil, ""},
		{"shell characters", []string{"$(id)", ";", "*", "", "a b"}, ""},
		{"at the count bound", make([]string, computemw.MaxArgs), ""},
		{"over the count bound", make([]string, computemw.MaxArgs+1), "more than 256 arguments"},
		{"at the size bound", []string{strings.Repeat("x", computemw.MaxArgsBytes-1)}, ""},
		{"over the size bound", []string{strings.Repeat("x", computemw.MaxArgsBytes)}, "bytes in all"},
		{"NUL", []string{"ok", "a\x00b"}, "argument 1 contains a NUL byte"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := computemw.ValidateArgs(c.args)
			if c.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			e := computemw.AsError(err)
			if e.Code != computemw.CodeBadRequest || !strings.Contains(e.Message, c.msg) {
				t.Errorf("got %s %q, want BAD_REQUEST containing %q", e.Code, e.Message, c.msg)
			}
		})
	}
}

// Kit.Execute checks args before a provider is called: bounded, and only
// for programs.
func TestExecuteArgsChecked(t *testing.T) {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close(context.Background())
	for name, run := range map[string]computemw.Run{
		"command":  {Command: "echo", Args: []string{"x"}},
		"NUL":      {Language: "python", Code: "echo", Args: []string{"\x00"}},
		"too many": {Language: "python", Code: "echo", Args: make([]string, computemw.MaxArgs+1)},
	} {
		_, err := kit.Execute(context.Background(), run)
		if e := computemw.AsError(err); e.Code != computemw.CodeBadRequest {
			t.Errorf("%s: %v, want BAD_REQUEST", name, err)
		}
	}
}

// compileOutput is part of the execution body, both ways, and absent when
// empty.
func TestResultCompileOutputJSON(t *testing.T) {
	b, err := json.Marshal(computemw.Result{Stdout: "ok", CompileOutput: "warning: x"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"compileOutput":"warning: x"`) {
		t.Errorf("body %s lacks compileOutput", b)
	}
	var back computemw.Result
	if err := json.Unmarshal(b, &back); err != nil || back.CompileOutput != "warning: x" {
		t.Errorf("round trip: %v %+v", err, back)
	}
	b, _ = json.Marshal(computemw.Result{Stdout: "ok"})
	if strings.Contains(string(b), "compileOutput") {
		t.Errorf("an empty compileOutput is sent: %s", b)
	}
}

// The WebSocket execute message checks its args like POST /execute.
func TestWebSocketExecuteArgsChecked(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{})
	conn, done := startConn(t, kit)
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	conn.expect(t, "sandbox-ready")
	for _, m := range []httpapi.WSMessage{
		{Type: "execute", Language: "python", Code: "echo", Args: []string{"a\x00b"}},
		{Type: "execute", Language: "python", Code: "echo", Args: make([]string, computemw.MaxArgs+1)},
		{Type: "execute", Command: "echo", Args: []string{"x"}},
	} {
		conn.send(t, m)
		if got := conn.expect(t, "error"); got.Code != string(computemw.CodeBadRequest) || !strings.Contains(got.Message, "args") {
			t.Errorf("args %q: %+v, want BAD_REQUEST about args", m.Args, got)
		}
	}
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "exit 0"})
	conn.expect(t, "execution-complete")
	_ = conn.Close(httpapi.CloseNormal, "")
	if err := <-done; err != nil && !errors.Is(err, io.EOF) {
		t.Logf("ServeConn: %v", err)
	}
}

// Kit.Execute checks a run's version, compile options and compile limit
// before a provider is called: bounded, within Config.MaxTimeout, and
// only for programs.
func TestExecuteCompileFieldsChecked(t *testing.T) {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}, MaxTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close(context.Background())
	for name, run := range map[string]computemw.Run{
		"options for a command":   {Command: "echo", CompileOptions: []string{"-O0"}},
		"version for a command":   {Command: "echo", Version: "3"},
		"compile limit too long":  {Language: "python", Code: "echo", CompileTimeout: time.Hour},
		"negative compile limit":  {Language: "python", Code: "echo", CompileTimeout: -time.Second},
		"too many options":        {Language: "python", Code: "echo", CompileOptions: make([]string, 33)},
		"an empty option":         {Language: "python", Code: "echo", CompileOptions: []string{""}},
		"a version of 65 bytes":   {Language: "python", Code: "echo", Version: strings.Repeat("1", 65)},
		"an option holding a NUL": {Language: "python", Code: "echo", CompileOptions: []string{"-O\x00"}},
	} {
		_, err := kit.Execute(context.Background(), run)
		if e := computemw.AsError(err); e.Code != computemw.CodeBadRequest {
			t.Errorf("%s: %v, want BAD_REQUEST", name, err)
		}
	}
}

// A run's version, compile options, compile limit and merged stderr reach
// the provider, which answers Unsupported when it cannot honour them.
func TestExecuteCompileFieldsReachTheProvider(t *testing.T) {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")}})
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close(context.Background())
	for says, run := range map[string]computemw.Run{
		"language version": {Language: "python", Code: "echo", Version: "3.12"},
		"compile options":  {Language: "python", Code: "echo", CompileOptions: []string{"-O0"}},
		"compile time":     {Language: "python", Code: "echo", CompileTimeout: time.Second},
		"merging stderr":   {Command: "echo", MergeStderr: true},
	} {
		_, err := kit.Execute(context.Background(), run)
		if e := computemw.AsError(err); e.Code != computemw.CodeExecution || !strings.Contains(e.Message, says) {
			t.Errorf("%s: %v, want Unsupported", says, err)
		}
	}
}
