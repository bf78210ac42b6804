package graphql_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/transports/graphql"
)

// TestLocalProvider runs the GraphQL endpoint over real bwrap sandboxes:
// a program's output, a file written in a session and read by a program
// in the same session, a subscription streaming a Python program's lines
// as they are printed, and nothing left behind afterwards.
func TestLocalProvider(t *testing.T) {
	kit := localKit(t)
	base := serve(t, kit, graphql.Options{})

	r := post(t, base, executeDoc, map[string]any{"code": "print(6*7)", "language": "python"}, nil)
	if res := r.field(t, "executeCode"); res["output"] != "42\n" || res["provider"] != "local" {
		t.Fatalf("executeCode: %s", r.Raw)
	}

	id := post(t, base, `mutation { createSession(language: "python") { sandboxId } }`, nil, nil).field(t, "createSession")["sandboxId"]
	vars := map[string]any{"id": id}
	if r = post(t, base, `mutation W($id: ID) { writeFile(path: "data.txt", content: "from graphql", sandboxId: $id) }`, vars, nil); r.Data["writeFile"] != true {
		t.Fatalf("writeFile: %s", r.Raw)
	}
	r = post(t, base, `mutation R($id: ID) { executeCode(code: "print(open('data.txt').read().upper())", language: "python", sandboxId: $id) { output } }`, vars, nil)
	if res := r.field(t, "executeCode"); res["output"] != "FROM GRAPHQL\n" {
		t.Errorf("program reading the session's file: %s", r.Raw)
	}
	r = post(t, base, `query L($id: ID) { listFiles(path: ".", sandboxId: $id) { name size } }`, vars, nil)
	if list, _ := r.Data["listFiles"].([]any); len(list) != 1 || list[0].(map[string]any)["name"] != "data.txt" {
		t.Errorf("listFiles: %s", r.Raw)
	}

	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each line is printed only once the test has seen the one before and
	// written the file the program waits for: the lines can only arrive
	// if they are streamed as they are printed.
	cl.subscribe("1", executionDoc, map[string]any{"language": "python", "id": id,
		"code": "import os, time\nfor i in range(3):\n    print('tick', i, flush=True)\n" +
			"    while not os.path.exists('go%d' % i):\n        time.sleep(0.01)\n"})
	for i := range 3 {
		// A line may come in pieces (print writes its parts one by one).
		var line string
		for !strings.HasSuffix(line, "\n") {
			line += cl.nextEvent("1").Data
		}
		if line != fmt.Sprintf("tick %d\n", i) {
			t.Fatalf("line %d: %q", i, line)
		}
		w := fmt.Sprintf(`mutation W($id: ID) { writeFile(path: "go%d", content: "", sandboxId: $id) }`, i)
		if r = post(t, base, w, vars, nil); r.Data["writeFile"] != true {
			t.Fatalf("writeFile go%d: %s", i, r.Raw)
		}
	}
	events, errs := cl.collect("1")
	if len(errs) != 0 || len(events) != 1 || events[0].Output != "tick 0\ntick 1\ntick 2\n" {
		t.Fatalf("subscription's end: events %+v errors %+v", events, errs)
	}

	if r = post(t, base, `mutation D($id: ID!) { destroySession(sandboxId: $id) }`, vars, nil); r.Data["destroySession"] != true {
		t.Errorf("destroySession: %s", r.Raw)
	}
	waitFor(t, "no live sandbox", func() bool { return kit.Stats().Live == 0 })
}

// localKit builds a kit over the local provider in a workspace folder of
// the test's own, closed at cleanup, failing the test if anything is left;
// policies guard it when given.
func localKit(t *testing.T, policies ...computemw.Policy) *computemw.Kit {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")
	base, err := os.MkdirTemp("", "computemw-graphql-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	prov, err := local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov},
		Metrics: prommetrics.New(prommetrics.Options{}), Logger: slog.New(slog.DiscardHandler), Policies: policies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(base, "*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		os.RemoveAll(base)
	})
	return kit
}
