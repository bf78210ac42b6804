package main

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// With only Modal's token (and MODAL_SERVER_URL, here the contract fake
// on loopback) in its environment, the starter runs code on Modal.
func TestExampleOnModal(t *testing.T) {
	fake := modalfake.New(t, modalfake.Options{})
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/nethttp",
		"MODAL_TOKEN_ID="+fake.TokenID, "MODAL_TOKEN_SECRET="+fake.TokenSecret, "MODAL_SERVER_URL="+fake.URL)
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/exec", `{"command":"echo remote-$((6*7))"}`, nil)
	if r.Status != 200 || r.Body["output"] != "remote-42\n" || r.Body["provider"] != "modal" {
		t.Errorf("exec on Modal: %d %s", r.Status, r.Raw)
	}
	if fake.Made() == 0 {
		t.Error("the fake made no sandbox: the starter did not use Modal")
	}
	srv.Stop(t)
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes left on Modal after shutdown: %v", live)
	}
}
