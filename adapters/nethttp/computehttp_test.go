package computehttp_test

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/computemw/kit/adapters/nethttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// serve starts a real net/http server on loopback, the way a user mounts
// the adapter.
func serve(t *testing.T, kit *computemw.Kit) string {
	mux := http.NewServeMux()
	computehttp.Mount(mux, computemwtest.Prefix, kit)
	mw := computehttp.Middleware(kit)
	mux.Handle("GET "+computemwtest.SandboxPath, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if computehttp.Sandbox(r) == nil {
			http.Error(w, "no sandbox", 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(computemwtest.SandboxInfoFor(r.Context()))
	})))
	mux.Handle("GET "+computemwtest.PanicPath, mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler panic")
	})))
	mux.Handle("GET "+computemwtest.ErrorPath, mw(computehttp.Handle(kit, func(http.ResponseWriter, *http.Request) error {
		return computemwtest.SuiteError()
	})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return "http://" + ln.Addr().String()
}

func TestAdapterSuite(t *testing.T) {
	computemwtest.AdapterSuite(t, computemwtest.Harness{Name: "net/http", Start: serve})
}
