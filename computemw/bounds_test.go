package computemw_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// Everything a caller hands to a sandbox besides the body is bounded and
// validated in the core, whatever the entry: a 400 before any sandbox
// exists, never a hang or a 500.
func TestInputBounds(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxBodyBytes: 1 << 20})
	ctx := context.Background()
	many := map[string]string{}
	for i := range computemw.MaxEnvVars + 1 {
		many[fmt.Sprintf("V%d", i)] = "x"
	}
	runs := map[string]computemw.Run{
		"command over 128 KiB":      {Command: strings.Repeat("x", computemw.MaxCommandBytes+1)},
		"too many variables":        {Command: "true", Env: many},
		"a 70,000-byte value":       {Command: "true", Env: map[string]string{"BIG": strings.Repeat("x", 70_000)}},
		"NUL in a value":            {Command: "true", Env: map[string]string{"A": "x\x00--share-net"}},
		"a name with =":             {Command: "true", Env: map[string]string{"A=B": "x"}},
		"a name with a digit first": {Command: "true", Env: map[string]string{"1A": "x"}},
		"NUL in a sandbox's env":    {Command: "true", Create: computemw.CreateOptions{Env: map[string]string{"A": "\x00"}}},
	}
	for name, run := range runs {
		if _, err := kit.Execute(ctx, run); computemw.StatusOf(err) != 400 {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	if _, err := kit.Create(ctx, "", computemw.CreateOptions{Env: map[string]string{"A": "x\x00--bind"}}); computemw.StatusOf(err) != 400 {
		t.Errorf("Create with a NUL in env: %v, want 400", err)
	}
	if fake.Created() != 0 {
		t.Fatalf("refused input created %d sandboxes", fake.Created())
	}

	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(ctx)
	if _, err := sb.Exec(ctx, "true", computemw.ExecOptions{Env: map[string]string{"A": "\x00"}}); computemw.StatusOf(err) != 400 {
		t.Errorf("Exec with a NUL in env: %v, want 400", err)
	}
	if _, err := sb.(computemw.TerminalOpener).OpenTerminal(ctx, computemw.TerminalOptions{Env: map[string]string{"A": "\x00"}}); computemw.StatusOf(err) != 400 {
		t.Errorf("OpenTerminal with a NUL in env: %v, want 400", err)
	}
	if r := post(ctx, kit, "/exec", `{"command":"`+strings.Repeat("x", computemw.MaxCommandBytes+1)+`"}`); r.Status != 400 {
		t.Errorf("POST /exec with a 128 KiB command: %d %s", r.Status, r.Body)
	}
}

func post(ctx context.Context, kit *computemw.Kit, path, body string) *httpapi.Response {
	return computemwtest.ServePath(ctx, kit, http.MethodPost, path, body, nil)
}
