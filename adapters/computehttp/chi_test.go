package computehttp_test

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/go-chi/chi/v5"
)

// serveChi mounts the adapter on a chi router, as a chi user would.
func serveChi(t *testing.T, kit *computemw.Kit) string {
	r := chi.NewRouter()
	r.Handle(computemwtest.Prefix+"/*", http.StripPrefix(computemwtest.Prefix, computehttp.Handler(kit)))
	r.Group(func(r chi.Router) {
		r.Use(computehttp.Middleware(kit))
		r.Get(computemwtest.SandboxPath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(computemwtest.SandboxInfoFor(r.Context()))
		})
		r.Method(http.MethodPost, computemwtest.RunPath, computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
			res, err := computemwtest.RunInRequest(r.Context(), r.Body)
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", "application/json")
			return json.NewEncoder(w).Encode(res)
		}))
		r.Get(computemwtest.PanicPath, func(http.ResponseWriter, *http.Request) { panic("handler panic") })
		r.Method(http.MethodGet, computemwtest.ErrorPath, computehttp.Handle(kit, func(http.ResponseWriter, *http.Request) error {
			return computemwtest.SuiteError()
		}))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return "http://" + ln.Addr().String()
}

func TestAdapterSuiteChi(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "chi", Start: serveChi})
}
