package browser

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

// TestPlaygroundToken signs the page in to a playground that wants an API
// key, as a person would, in headless Chromium: the page's WebSocket is
// let in (the page gets its sandbox) with the token in no URL, the browser
// accepted the subprotocol the server chose, and the token is kept in the
// tab's sessionStorage, not in localStorage, where a token an earlier
// page left is removed.
func TestPlaygroundToken(t *testing.T) {
	chrome := chromium()
	computemwtest.Require(t, chrome != "", "chromium is not installed (make setup-playground installs it on Debian/Ubuntu)")
	const key = "browser-key/+=1" // characters a subprotocol may not hold as they are
	srv := exampletest.Start(t, playground, "PLAYGROUND_API_KEY="+key, "PLAYGROUND_XTERM="+t.TempDir())

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
				status: document.getElementById("status").textContent,
				banner: document.getElementById("banner").textContent})`))
			t.Fatalf("%s: %v\npage: %q", step, err, page)
		}
	}
	do("load the page with a token an earlier page left in localStorage",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem("playground-token", "stale")`),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token-form")))
	do("sign in",
		chromedp.Evaluate[chromedp.Void](`(() => {
			document.getElementById("token").value = `+jsString(key)+`;
			document.getElementById("token-form").requestSubmit() })()`),
		chromedp.Poll[chromedp.Void](`state.ready === true`, chromedp.WithPollingTimeout(time.Minute)))

	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
		url: state.ws.url, protocol: state.ws.protocol,
		session: sessionStorage.getItem("playground-token"),
		local: localStorage.getItem("playground-token")})`))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := got["url"].(string); u == "" || strings.Contains(u, "token") || strings.Contains(u, "browser-key") {
		t.Errorf("WebSocket URL %q", got["url"])
	}
	if got["protocol"] != "computemw" {
		t.Errorf("WebSocket subprotocol %q, want computemw", got["protocol"])
	}
	if got["session"] != key || got["local"] != nil {
		t.Errorf("sessionStorage %v, localStorage %v: want the token in sessionStorage only", got["session"], got["local"])
	}
	cancel()
	srv.Stop(t)
}

// jsString quotes s as a JavaScript string literal of plain characters.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
