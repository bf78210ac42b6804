package computemcp_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/transports/computemcp"
	"github.com/computemw/kit/transports/computemcp/computemcptest"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestExecutionLog: every run of a tool call has its line in the kit's
// execution log, with the caller's principal and operation, as a route's.
func TestExecutionLog(t *testing.T) {
	var logs lockedBuffer
	authn := authKitPolicy(t)
	kit := localKit(t, computemw.Config{Policies: []computemw.Policy{authn},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	base, _ := serve(t, kit, computemcp.Options{})
	cs, err := computemcptest.Connect(t, base+"/api/mcp", token(t, "logan"), nil)
	if err != nil {
		t.Fatal(err)
	}
	computemcptest.Call(t, cs, "run_code", map[string]any{"language": "python", "code": "print(1)"})
	computemcptest.Call(t, cs, "run_command", map[string]any{"command": "exit 2"})
	_ = cs.Close()
	var got []string
	for _, l := range logs.lines() {
		if l["msg"] == "computemw: execution" && l["principal"] == "logan" {
			got = append(got, l["op"].(string)+"/"+l["status"].(string))
		}
	}
	if len(got) != 2 || got[0] != "execute/success" || got[1] != "exec/failure" {
		t.Errorf("execution log lines of the caller: %v", got)
	}
}
