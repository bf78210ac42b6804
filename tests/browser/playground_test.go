package browser

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/internal/exampletest"
)

// artifactDir is where the screenshot goes: the test's artifact directory
// under -outputdir with -artifacts, else a directory of its own under
// $TMPDIR that is kept. Either way the log names it.
func artifactDir(t *testing.T) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir, err := os.MkdirTemp("", "computemw-playground-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPlayground drives the playground page in headless Chromium as a
// person would: pick python, see a program's first line while it waits for
// input and answer it, hit the time limit with an infinite loop, type in
// the terminal, and create a file in the explorer that a program then
// reads. One Chromium for all of it.
func TestPlayground(t *testing.T) {
	chrome := chromium()
	computemwtest.Require(t, chrome != "", "chromium is not installed (make setup-playground installs it on Debian/Ubuntu)")
	nm := nodeModules()
	computemwtest.Require(t, nm != "", "xterm.js is not installed in .cache/node-playground (run make setup-playground)")

	srv := exampletest.Start(t, playground, "PLAYGROUND_TIMEOUT=30s", "PLAYGROUND_XTERM="+nm)
	wantLangs := languageNames(t, srv.URL)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 8*time.Minute)
	defer cancel()

	// A script error in the page fails the test.
	var (
		mu       sync.Mutex
		jsErrors []string
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			jsErrors = append(jsErrors, exceptionText(e.ExceptionDetails))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			// What the page showed, to tell why.
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
				status: document.getElementById("status").textContent,
				banner: document.getElementById("banner").textContent,
				runState: document.getElementById("run-state").textContent,
				runError: document.getElementById("run-error").textContent,
				output: document.getElementById("output").textContent,
				files: document.getElementById("files").innerText + " | open: " + state.openPath,
				terminal: state.term ? (() => { const b = state.term.buffer.active; const l = [];
					for (let i = 0; i < b.length; i++) l.push(b.getLine(i).translateToString(true)); return l.join("\\n").trim() })() : "(none)"})`))
			t.Fatalf("%s: %v\npage: %q", step, err, page)
		}
	}
	// setValue sets a field's value as if the user had entered it.
	setValue := func(id, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const el = document.getElementById(%q); el.value = %q;
			el.dispatchEvent(new Event("input")); el.dispatchEvent(new Event("change")) })()`, id, value))
	}
	setCode := func(code string) chromedp.Action[chromedp.Void] { return setValue("code", code) }
	// click presses a button with the mouse, so a button the layout hides
	// or covers fails the test.
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	poll := func(expr string, d time.Duration) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d))
	}

	do("load the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitEnabled(chromedp.ID("run")))
	langs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#language option")].map(o => o.value)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(langs, wantLangs) {
		t.Errorf("the picker offers %v; GET /api/languages lists %v", langs, wantLangs)
	}

	// Live output: the program prints a line, then waits for a line of
	// input that is typed only once that first line is on the page. The
	// program cannot end before, so the line can only be there while it
	// runs if output streams.
	do("see a running program's first line",
		setValue("language", "python"),
		setValue("stdin", ""),
		setCode("print('line 0', flush=True)\nname = input()\nprint('hello', name.upper(), flush=True)\n"),
		click("#run"),
		poll(`document.getElementById("output").textContent.includes("line 0")`, time.Minute),
	)
	live, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[document.getElementById("output").textContent,
		document.getElementById("stdin-line").hidden]`))
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := live[0].(string); strings.Contains(text, "[exited") || strings.Contains(text, "[stopped") || live[1] != false {
		t.Errorf("the first line showed only once the program had ended: output %q, input line hidden %v", text, live[1])
	}
	do("answer the program on its input line",
		chromedp.SendKeys(chromedp.ID("stdin-input"), "world\r"),
		poll(`document.getElementById("output").textContent.includes("[exited with code 0]")`, time.Minute),
	)
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("output")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "hello WORLD") {
		t.Errorf("the program answered %q; want hello WORLD", out)
	}

	do("an infinite loop hits the time limit",
		setCode("while True:\n    pass\n"),
		click("#run"),
		chromedp.WaitVisible(chromedp.ID("run-error")),
		poll(`document.getElementById("output").textContent.includes("[stopped: time limit exceeded]")`, 2*time.Minute),
	)
	errText, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("run-error")))
	if err != nil {
		t.Fatal(err)
	}
	errCode, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-error"), "data-code"))
	if err != nil {
		t.Fatal(err)
	}
	if errCode.Value != string(computemw.CodeTimeout) || !strings.Contains(errText, "Time limit exceeded") {
		t.Errorf("timeout shown as %q (%s)", errText, errCode.Value)
	}

	// The other error classes, as people expect to read them.
	for _, c := range []struct{ name, code, want, program string }{
		{"memory", string(computemw.CodeResource), "Out of memory", "a = []\nwhile True:\n    a.append(bytearray(50 << 20))\n"},
		{"bad request", string(computemw.CodeBadRequest), "Bad request", ""},
	} {
		do(c.name,
			setCode(c.program),
			click("#run"),
			poll(fmt.Sprintf(`(() => { const e = document.getElementById("run-error");
				return !e.hidden && e.dataset.code === %q && e.textContent.includes(%q) })()`, c.code, c.want), time.Minute),
			chromedp.WaitEnabled(chromedp.ID("run")),
		)
	}

	do("type in the terminal",
		click("#term-open"),
		chromedp.WaitReady(chromedp.CSS("#terminal .xterm-helper-textarea")),
		poll(`state.term.buffer.active.getLine(0).translateToString(true).trim() !== ""`, time.Minute), // the prompt
		chromedp.Evaluate[chromedp.Void](`state.term.focus()`),
	)
	// Typing: the text goes in as a keyboard's input events would carry
	// it (key events for each letter reach xterm.js twice, as keypress
	// and as input, in headless Chromium), then the Enter key.
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: "echo hi"}); err != nil {
		t.Fatal(err)
	}
	do("see the command's output in the terminal",
		chromedp.KeyEvent("\r"),
		poll(`(() => { const b = state.term.buffer.active; const lines = [];
			for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true).trim());
			return lines.includes("hi") })()`, time.Minute),
	)

	do("create a file in the explorer and read it from a program",
		setValue("new-name", "notes.txt"),
		click("#new-file button"),
		chromedp.WaitVisible(chromedp.ID("file-pane")),
		setValue("file-text", "written in the explorer"),
		click("#file-save"),
		poll(`[...document.querySelectorAll("#files li")].some(li => li.dataset.name === "notes.txt" &&
			li.querySelector(".size").textContent === "23 B")`, time.Minute),
		setCode("print(open('notes.txt').read().upper())\n"),
		click("#run"),
		poll(`document.getElementById("output").textContent.includes("[exited")`, time.Minute),
	)
	out, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("output")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "WRITTEN IN THE EXPLORER") {
		t.Errorf("the program read %q", out)
	}

	// Keep state: a code context keeps x between runs, and a value with
	// a PNG form shows as an image the browser decodes.
	do("keep state between runs in a code context",
		click("#keep-state"),
		setCode("x = 41\n"),
		click("#run"),
		poll(`document.getElementById("run-state").textContent === "done"`, time.Minute),
		setCode("print(x + 1)\n"),
		click("#run"),
		poll(`document.getElementById("output").textContent.includes("42")`, time.Minute),
	)
	do("an image result renders as an image",
		setCode(pngProgram),
		click("#run"),
		poll(`(() => { const i = document.querySelector("#output .rich img");
			return !!i && i.complete && i.naturalWidth === 4 })()`, time.Minute),
	)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := artifactDir(t)
	path := filepath.Join(dir, "playground.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	mu.Lock()
	if len(jsErrors) > 0 {
		t.Errorf("script errors in the page: %v", jsErrors)
	}
	mu.Unlock()

	// Closing the browser ends the page's connection; stopping the server
	// then leaves no sandbox behind (exampletest checks).
	cancelBrowser()
	srv.Stop(t)
}

// languageNames are the names GET /api/languages lists for the default
// provider, in order.
func languageNames(t *testing.T, base string) []string {
	t.Helper()
	st, body := get(t, base+"/api/languages")
	var resp httpapi.LanguagesResponse
	if st != 200 || json.Unmarshal([]byte(body), &resp) != nil {
		t.Fatalf("GET /api/languages: %d %s", st, body)
	}
	var names []string
	for _, p := range resp.Providers {
		if p.Provider == resp.DefaultProvider {
			for _, rt := range p.Runtimes {
				names = append(names, rt.Name)
			}
		}
	}
	return names
}

// exceptionText describes an exception the page threw.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return fmt.Sprintf("%s at %s:%d", d.Text, d.URL, d.LineNumber)
}

// pngProgram's last value has a PNG form (_repr_png_): a 4x4 red image
// made with the standard library alone.
const pngProgram = `import struct, zlib
class Red:
    def _repr_png_(self):
        raw = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(4))
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
Red()
`
