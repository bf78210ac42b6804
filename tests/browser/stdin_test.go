package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

// TestPlaygroundInputAndErrors drives the playground in Chromium: a
// program that reads its input to the end finishes when the person ends
// the input; a compile error is titled as one and keeps its lines; the
// note of a stopped program points to the output where it is.
func TestPlaygroundInputAndErrors(t *testing.T) {
	chrome := chromium()
	computemwtest.Require(t, chrome != "", "chromium is not installed (make setup-playground installs it on Debian/Ubuntu)")
	nm := nodeModules()
	computemwtest.Require(t, nm != "", "xterm.js is not installed in .cache/node-playground (run make setup-playground)")
	su := filepath.Join(filepath.Dir(nm), "..", "node-swagger-ui", "node_modules")
	_, err := os.Stat(filepath.Join(su, "swagger-ui-dist", "package.json"))
	computemwtest.Require(t, err == nil, "Swagger UI is not installed in .cache/node-swagger-ui (run make setup-playground)")
	srv := exampletest.Start(t, playground, "PLAYGROUND_TIMEOUT=30s", "PLAYGROUND_XTERM="+nm, "PLAYGROUND_SWAGGER_UI="+su)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
				runState: document.getElementById("run-state").textContent,
				runError: document.getElementById("run-error").innerText,
				output: document.getElementById("output").textContent})`))
			t.Fatalf("%s: %v\npage: %q", step, err, page)
		}
	}
	setValue := func(id, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const el = document.getElementById(%q); el.value = %q;
			el.dispatchEvent(new Event("input")); el.dispatchEvent(new Event("change")) })()`, id, value))
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Minute))
	}

	do("load the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitEnabled(chromedp.ID("run")))
	// The program reads to the end of its input: it can only finish once
	// the person ends the input.
	do("end a program's input",
		setValue("language", "python"),
		setValue("stdin", "world"),
		setValue("code", "import sys\nprint('read', flush=True)\nprint(sys.stdin.read().upper())\n"),
		chromedp.Click(chromedp.CSS("#run")),
		poll(`document.getElementById("output").textContent.includes("read")`),
		chromedp.Click(chromedp.CSS("#stdin-end")),
		poll(`document.getElementById("output").textContent.includes("[exited with code 0]")`),
	)
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("output")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "WORLD") {
		t.Errorf("output %q, want the input read to its end", out)
	}

	// Two errors on two lines: the compiler reports each on its own line.
	do("a compile error",
		setValue("language", "c"),
		setValue("stdin", ""),
		setValue("code", "int main(void) {\n  undefined_one();\n  undefined_two();\n}\n"),
		chromedp.Click(chromedp.CSS("#run")),
		poll(`!document.getElementById("run-error").hidden`),
	)
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
		title: document.querySelector("#run-error strong").textContent,
		text: document.getElementById("run-error").innerText,
		note: describe("TIMEOUT", "")[1],
		errorFirst: String(!!(document.getElementById("run-error").compareDocumentPosition(
			document.getElementById("output")) & Node.DOCUMENT_POSITION_FOLLOWING))})`))
	if err != nil {
		t.Fatal(err)
	}
	if shown["title"] != "Compilation failed" {
		t.Errorf("a compile error is titled %q", shown["title"])
	}
	if i, j := strings.Index(shown["text"], "undefined_one"), strings.Index(shown["text"], "undefined_two"); i < 0 || j < 0 ||
		!strings.Contains(shown["text"][i:j], "\n") {
		t.Errorf("the compiler's lines are joined: %q", shown["text"])
	}
	// The note sits above the output: it must say the output is below.
	if shown["errorFirst"] != "true" || !strings.Contains(shown["note"], "below") {
		t.Errorf("the note says %q; the error is above the output: %s", shown["note"], shown["errorFirst"])
	}

	// The API page beside the playground: Swagger UI, under the page's
	// content security policy, shows the route group's operations at the
	// prefix the document was served under.
	do("the API page",
		chromedp.Navigate(srv.URL+"/docs"),
		poll(`document.querySelectorAll(".swagger-ui .opblock").length > 10`),
	)
	server, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".swagger-ui .servers select") || {}).value || ""`))
	if err != nil {
		t.Fatal(err)
	}
	if server != "/api" {
		t.Errorf("the API page's server is %q, want /api", server)
	}
	cancelBrowser()
	srv.Stop(t)
}
