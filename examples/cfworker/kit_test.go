package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRefusals: a Worker that cannot start answers every request 503
// UNAVAILABLE saying what to set — no remote provider, the local provider
// asked for, no authenticator, a JWT secret too short — and makes no kit.
func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no provider", map[string]string{"COMPUTEMW_JWT_SECRET": jwtSecret}, errNoProvider.Error()},
		{"the local provider", map[string]string{"COMPUTEMW_PROVIDER": "local", "E2B_API_KEY": "e2b_k", "COMPUTEMW_JWT_SECRET": jwtSecret}, errLocalProvider.Error()},
		{"no authenticator", map[string]string{"E2B_API_KEY": "e2b_k"}, errNoAuth.Error()},
		{"a short JWT secret", map[string]string{"E2B_API_KEY": "e2b_k", "COMPUTEMW_JWT_SECRET": "short"}, "at least 32"},
		{"a bad rate", map[string]string{"E2B_API_KEY": "e2b_k", "COMPUTEMW_API_KEY": "k", "COMPUTEMW_RATE_FREE": "-1"}, "COMPUTEMW_RATE_FREE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range []string{"E2B_API_KEY", "DAYTONA_API_KEY", "COMPUTEMW_PROVIDER", "COMPUTEMW_JWT_SECRET", "COMPUTEMW_API_KEY", "COMPUTEMW_RATE_FREE", "COMPUTEMW_QUOTA_FREE"} {
				t.Setenv(name, c.env[name])
			}
			h, kit := build()
			if kit != nil {
				closeKit(kit)
				t.Fatal("a kit was made")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/execute", strings.NewReader(`{}`)))
			var out map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusServiceUnavailable || out["code"] != "UNAVAILABLE" || !strings.Contains(out["error"], c.want) {
				t.Errorf("%d %v, want 503 naming %q", rec.Code, out, c.want)
			}
		})
	}
}
