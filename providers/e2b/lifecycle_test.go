package e2b_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/internal/providertest"
)

// Create sends the template, metadata, environment, the lifetime in
// seconds and the network choice; Get, List, SetTimeout, Connect and Kill
// reach the same sandbox.
func TestLifecycle(t *testing.T) {
	p, f := newProvider(t, func(o *e2b.Options) { o.SandboxTimeout = 90 * time.Second })
	ctx := testCtx(t)
	before := time.Now()
	sb := create(t, p, computemw.CreateOptions{
		Template: "my-template", Env: map[string]string{"A": "1"}, Metadata: map[string]string{"app": "lifecycle"},
	})
	if sb.Template() != "my-template" {
		t.Errorf("Template() = %q", sb.Template())
	}
	if got := f.Env(sb.ID()); got["A"] != "1" {
		t.Errorf("the fake got envVars %v", got)
	}
	if got := f.AllowInternetAccess(sb.ID()); got == nil || *got {
		t.Errorf("allow_internet_access = %v, want false for a sandbox that did not ask for network", got)
	}
	end, _ := f.EndAt(sb.ID())
	if d := end.Sub(before); d < 89*time.Second || d > 92*time.Second {
		t.Errorf("the sandbox expires %s after create, want 90s (timeout in seconds)", d)
	}

	info, err := p.Get(ctx, sb.ID())
	if err != nil || info.SandboxID != sb.ID() || info.Metadata["app"] != "lifecycle" || info.State != "running" {
		t.Fatalf("Get = %+v, %v", info, err)
	}

	other := create(t, p, computemw.CreateOptions{Network: true, Metadata: map[string]string{"app": "other"}})
	if got := f.AllowInternetAccess(other.ID()); got != nil {
		t.Errorf("allow_internet_access = %v for a sandbox that asked for network, want it left out", *got)
	}
	listed, err := p.List(ctx, map[string]string{"app": "lifecycle"})
	if err != nil || len(listed) != 1 || listed[0].SandboxID != sb.ID() {
		t.Errorf("List(app=lifecycle) = %+v, %v; want only %s", listed, err, sb.ID())
	}
	all, err := p.List(ctx, nil)
	ids := []string{}
	for _, s := range all {
		ids = append(ids, s.SandboxID)
	}
	if err != nil || len(all) != 2 || !slices.Contains(ids, other.ID()) {
		t.Errorf("List() = %v, %v; want both sandboxes", ids, err)
	}

	if err := sb.SetTimeout(ctx, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if end, _ := f.EndAt(sb.ID()); time.Until(end) > 3*time.Second || time.Until(end) < 0 {
		t.Errorf("after SetTimeout(1.5s) the sandbox expires in %s, want 2s (whole seconds, rounded up)", time.Until(end))
	}

	// Another provider (another process of the app) connects by ID.
	p2, err := e2b.New(f.Options())
	if err != nil {
		t.Fatal(err)
	}
	same, err := p2.Connect(ctx, sb.ID())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := sb.WriteFile(ctx, "shared.txt", []byte("seen by both")); err != nil {
		t.Fatal(err)
	}
	if got, err := same.ReadFile(ctx, "shared.txt"); err != nil || string(got) != "seen by both" {
		t.Errorf("the connected sandbox reads %q, %v", got, err)
	}
	_, err = p2.Connect(ctx, "no-such-sandbox")
	providertest.WantCode(t, "Connect to an unknown id", err, computemw.CodeNotFound)
	_, err = p2.Connect(ctx, "../sandboxes")
	providertest.WantCode(t, "Connect to an id with a slash", err, computemw.CodeBadRequest)

	if err := p.Kill(ctx, other.ID()); err != nil {
		t.Fatal(err)
	}
	err = p.Kill(ctx, other.ID())
	providertest.WantCode(t, "Kill twice", err, computemw.CodeNotFound)
	if err := other.Destroy(ctx); err != nil {
		t.Errorf("Destroy of a sandbox killed meanwhile: %v", err)
	}
	// p2's Close kills what it connected to (sb): the books must show it.
	if err := p2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if live := f.Live(); len(live) != 0 {
		t.Errorf("after both closed, live sandboxes: %v", live)
	}
	_, err = p2.Create(ctx, computemw.CreateOptions{})
	providertest.WantCode(t, "Create after Close", err, computemw.CodeUnavailable)
}

// What E2B cannot do is refused with a stable code and a clear message,
// before anything is made.
func TestUnsupported(t *testing.T) {
	p, f := newProvider(t, nil)
	for _, r := range []computemw.Resources{{MemoryMB: 256}, {CPUCores: 0.5}, {MaxProcesses: 10}} {
		_, err := p.Create(testCtx(t), computemw.CreateOptions{Resources: r})
		e := providertest.WantCode(t, "Create with a resource cap", err, computemw.CodeBadRequest)
		if !strings.Contains(e.Message, "not supported by provider e2b") {
			t.Errorf("message %q does not say it is not supported by provider e2b", e.Message)
		}
	}
	if f.Count("create") != 0 {
		t.Errorf("%d create requests reached the vendor", f.Count("create"))
	}
}

// Files: Move and OpenFile, on top of the suite's cases; ReadFile's cap.
func TestFilesMoveAndOpen(t *testing.T) {
	p, _ := newProvider(t, func(o *e2b.Options) { o.MaxReadBytes = 1024 })
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	big := strings.Repeat("x", 5000)
	if err := sb.WriteFile(ctx, "in/big.txt", []byte(big)); err != nil {
		t.Fatal(err)
	}
	_, err := sb.ReadFile(ctx, "in/big.txt")
	providertest.WantCode(t, "ReadFile over MaxReadBytes", err, computemw.CodePayloadTooLarge)
	if err := sb.Move(ctx, "in/big.txt", "out/moved.txt"); err != nil {
		t.Fatal(err)
	}
	rc, fi, err := sb.OpenFile(ctx, "out/moved.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != big || fi.Size != 5000 || fi.Type != "file" || fi.Path != "out/moved.txt" {
		t.Errorf("OpenFile: %d bytes, %v, info %+v", len(got), err, fi)
	}
	_, _, err = sb.OpenFile(ctx, "out")
	providertest.WantCode(t, "OpenFile of a directory", err, computemw.CodeBadRequest)
	err = sb.Move(ctx, "out/moved.txt", "../escape")
	providertest.WantCode(t, "Move out of the workspace", err, computemw.CodeBadRequest)
	_, err = sb.Stat(ctx, "in/big.txt")
	providertest.WantCode(t, "Stat of the moved file's old path", err, computemw.CodeNotFound)
}

// Exec streams output while the program runs, and Usage reports the
// executions and the peak memory of the vendor's metrics.
func TestExecStreamsAndUsage(t *testing.T) {
	p, _ := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	// The program waits for a file that is written only once its first
	// line has reached the writer: only streaming can finish it.
	pr, pw := io.Pipe()
	defer pr.Close()
	seen := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, _ := pr.Read(buf)
		seen <- string(buf[:n])
		_ = sb.WriteFile(ctx, "go-on", []byte("1"))
		_, _ = io.Copy(io.Discard, pr)
	}()
	res, err := sb.Exec(ctx, "echo first; while [ ! -e go-on ]; do sleep 0.05; done; echo second",
		computemw.ExecOptions{Stdout: pw, Timeout: 20 * time.Second})
	pw.Close()
	if err != nil || res.Stdout != "first\nsecond\n" {
		t.Fatalf("Exec = %+v, %v", res, err)
	}
	if got := <-seen; got != "first\n" {
		t.Errorf("the writer saw %q first", got)
	}
	u, err := sb.Usage(ctx)
	if err != nil || u.Executions != 1 || u.PeakMemory <= 0 {
		t.Errorf("Usage = %+v, %v; want 1 execution and a peak memory", u, err)
	}
	// A writer that fails stops the program.
	_, err = sb.Exec(ctx, "while true; do echo y; done", computemw.ExecOptions{Stdout: failingWriter{}, Timeout: 20 * time.Second})
	if err == nil || !errors.Is(err, errWrite) {
		t.Errorf("Exec with a failing writer: %v, want the writer's error", err)
	}
}

var errWrite = errors.New("writer broke")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// Standard input the program does not read is no error, and input that
// arrives in pieces reaches it in order.
func TestExecStdinEdges(t *testing.T) {
	p, _ := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	for range 5 {
		res, err := sb.Exec(ctx, "echo ignored", computemw.ExecOptions{Stdin: strings.NewReader(strings.Repeat("x", 200<<10))})
		if err != nil || res.Stdout != "ignored\n" {
			t.Fatalf("Exec with unread stdin = %+v, %v", res, err)
		}
	}
	pr, pw := io.Pipe()
	go func() {
		for i := range 3 {
			_, _ = pw.Write([]byte(strings.Repeat(string(rune('a'+i)), 3) + "\n"))
		}
		pw.Close()
	}()
	res, err := sb.Exec(ctx, "cat", computemw.ExecOptions{Stdin: pr})
	if err != nil || res.Stdout != "aaa\nbbb\nccc\n" {
		t.Errorf("Exec with piecewise stdin = %+v, %v", res, err)
	}
}
