package adapters_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// serversOf fetches the OpenAPI document at url and returns its servers'
// URLs.
func serversOf(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK || doc.OpenAPI == "" {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	var urls []string
	for _, s := range doc.Servers {
		urls = append(urls, s.URL)
	}
	return urls
}

// GET /openapi.json names as its server the prefix it was served under, on
// every framework and under any prefix.
func TestOpenAPINamesItsPrefix(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
			urls := serversOf(t, a.Start(t, kit)+computemwtest.Prefix+"/openapi.json")
			if len(urls) != 1 || urls[0] != computemwtest.Prefix {
				t.Errorf("servers %q, want [%q]", urls, computemwtest.Prefix)
			}
		})
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/v2/compute", kit)
	if urls := serversOf(t, harness.ServeHTTP(t, mux)+"/v2/compute/openapi.json"); len(urls) != 1 || urls[0] != "/v2/compute" {
		t.Errorf("under /v2/compute: servers %q", urls)
	}
}
