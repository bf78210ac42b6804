package main

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// With only Vercel's token, team and project (and the API's URL, here a
// contract fake on loopback) in its environment, the starter runs code on
// Vercel Sandbox.
func TestExampleOnVercel(t *testing.T) {
	fake := vercelfake.New(t, vercelfake.Options{})
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp",
		"VERCEL_TOKEN="+fake.Token, "VERCEL_TEAM_ID="+fake.TeamID, "VERCEL_PROJECT_ID="+fake.ProjectID,
		"VERCEL_API_URL="+fake.URL)
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/exec", `{"command":"echo vercel-$((6*7))"}`, nil)
	if r.Status != 200 || r.Body["output"] != "vercel-42\n" || r.Body["provider"] != "vercel" {
		t.Errorf("exec on Vercel: %d %s", r.Status, r.Raw)
	}
	if fake.Made() == 0 {
		t.Error("the fake made no sandbox: the starter did not use Vercel")
	}
	srv.Stop(t)
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes left on Vercel after shutdown: %v", live)
	}
}
