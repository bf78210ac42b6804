package e2bfake

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem"
	"github.com/computemw/kit/providers/e2b/internal/envd/process"
)

func TestSpecsLoad(t *testing.T) {
	if _, _, err := validators(); err != nil {
		t.Fatal(err)
	}
}

// An RPC's body is decoded with the vendor's message type in either
// codec, unary or enveloped, and a field the type does not have (at the
// top or nested) is refused.
func TestCheckRPC(t *testing.T) {
	bin := func(m proto.Message, extra bool) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if extra {
			b = protowire.AppendTag(b, 99, protowire.VarintType)
			b = protowire.AppendVarint(b, 1)
		}
		return b
	}
	envelope := func(b []byte) []byte {
		out := make([]byte, 5, 5+len(b))
		binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
		return append(out, b...)
	}
	start := &process.StartRequest{Process: &process.ProcessConfig{Cmd: "sh"}}
	cfg, err := proto.Marshal(&process.ProcessConfig{Cmd: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	cfg = protowire.AppendTag(cfg, 77, protowire.BytesType)
	cfg = protowire.AppendBytes(cfg, []byte("x"))
	nested := protowire.AppendTag(nil, 1, protowire.BytesType) // StartRequest.process
	nested = protowire.AppendBytes(nested, cfg)
	stat := "/filesystem.Filesystem/Stat"
	startPath := "/process.Process/Start"
	for _, tc := range []struct {
		name, path, ct string
		body           []byte
		ok             bool
	}{
		{"json", stat, "application/json", []byte(`{"path":"/x"}`), true},
		{"json unknown", stat, "application/json", []byte(`{"filePath":"/x"}`), false},
		{"proto", stat, "application/proto", bin(&filesystem.StatRequest{Path: "/x"}, false), true},
		{"proto unknown", stat, "application/proto", bin(&filesystem.StatRequest{Path: "/x"}, true), false},
		{"stream", startPath, "application/connect+proto", envelope(bin(start, false)), true},
		{"stream unknown", startPath, "application/connect+proto", envelope(bin(start, true)), false},
		{"stream nested unknown", startPath, "application/connect+proto", envelope(nested), false},
		{"stream json unknown", startPath, "application/connect+json", envelope([]byte(`{"process":{"cmd":"sh","command":"x"}}`)), false},
		{"stream empty", startPath, "application/connect+proto", nil, false},
		{"unknown RPC", "/process.Process/Exec", "application/json", []byte(`{}`), false},
	} {
		r := httptest.NewRequest(http.MethodPost, tc.path, nil)
		r.Header.Set("Content-Type", tc.ct)
		_, err := checkRPC(r, tc.body)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
