package computemcp_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/transports/computemcp"
)

// localKit builds a kit over the local provider in a workspace folder of
// the test's own, closed at cleanup, failing the test if anything is left.
// The provider's configuration, when given, is lcfg[0]'s, with the
// folder and the test's settings.
func localKit(t *testing.T, cfg computemw.Config, lcfg ...local.Config) *computemw.Kit {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")
	base, err := os.MkdirTemp("", "computemw-mcp-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	var lc local.Config
	if len(lcfg) > 0 {
		lc = lcfg[0]
	}
	lc.BaseDir, lc.Logger, lc.WarmPool = base, slog.New(slog.DiscardHandler), local.PoolConfig{Size: -1}
	prov, err := local.New(lc)
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	cfg.Providers = []computemw.Provider{prov}
	cfg.Metrics = prommetrics.New(prommetrics.Options{})
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kit, err := computemw.New(cfg)
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

// serve mounts the route group under /api and the MCP endpoint at
// /api/mcp, with its metadata, on a real net/http server on loopback; it
// returns the base URL and the endpoint, closed at cleanup.
func serve(t *testing.T, kit *computemw.Kit, opts computemcp.Options) (string, *computemcp.Server) {
	t.Helper()
	srv := computemcp.New(kit, opts)
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	mux.Handle("/api/mcp", srv)
	mux.Handle("GET "+computemcp.MetadataPath("/api/mcp"), srv.Metadata())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("mcp Close: %v", err)
		}
		hs.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return hs.URL, srv
}
