package modal_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// The provider's exchanges with Modal go through the SDK's own generated
// types and are checked by the fake (metadata, unknown fields, units):
// this runs each operation the provider uses and checks that each RPC
// reached the fake. A wrong exchange fails the test from inside the fake.
func TestConformanceExchanges(t *testing.T) {
	p, fake := newProvider(t, modal.Options{CPU: 0.5, MemoryMiB: 512, IdleTimeout: 90 * time.Second, Tags: map[string]string{"team": "a"}})
	ctx := ctxT(t, 60*time.Second)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"A": "1"}, Metadata: map[string]string{"k": "v"}})
	if tags := fake.Tags(sb.ID()); tags["k"] != "v" || tags["team"] != "a" || tags[modal.TagManaged] != "true" || tags[modal.TagCreate] == "" {
		t.Errorf("tags %v", tags)
	}
	def, _ := fake.Definition(sb.ID())
	if def.MilliCPU != 500 || def.MemoryMB != 512 || def.TimeoutSecs != 3600 || def.IdleTimeoutSecs != 90 ||
		def.Workdir != modal.DefaultWorkdir || !def.NetworkBlocked || def.Env["A"] != "1" {
		t.Errorf("created with %+v", def)
	}
	withNet := create(t, p, computemw.CreateOptions{Network: true, Resources: computemw.Resources{CPUCores: 2, MemoryMB: 2048}})
	if def, _ := fake.Definition(withNet.ID()); def.NetworkBlocked || def.MilliCPU != 2000 || def.MemoryMB != 2048 {
		t.Errorf("created with %+v", def)
	}
	if err := withNet.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := sb.Exec(ctx, `cat; echo "$A$B" >&2`, computemw.ExecOptions{Stdin: strings.NewReader("in"), Env: map[string]string{"B": "2"}})
	if err != nil || res.Stdout != "in" || res.Stderr != "12\n" {
		t.Fatalf("exec: %+v %v", res, err)
	}
	if err := sb.Mkdir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "d/f", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if got, err := sb.ReadFile(ctx, "d/f"); err != nil || string(got) != "data" {
		t.Fatalf("read: %q %v", got, err)
	}
	if list, err := sb.ListFiles(ctx, "d"); err != nil || len(list) != 1 || list[0].Path != "d/f" || list[0].Size != 4 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := sb.Remove(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	ids, err := p.List(ctx, 0)
	if err != nil || len(ids) != 1 {
		t.Fatalf("List: %v %v", ids, err)
	}
	other := providerOn(t, fake, modal.Options{})
	again, err := other.Attach(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Exec(ctx, "true", computemw.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, m := range []string{"AuthTokenGet", "AppGetOrCreate", "EnvironmentGetOrCreate", "ImageGetOrCreate",
		"SandboxCreateV2", "SandboxListV2", "SandboxWaitV2", "SandboxTerminateV2", "SandboxGetTaskIdV2",
		"SandboxGetCommandRouterAccess", "TaskExecStart", "TaskExecStdioRead", "TaskExecWait",
		"TaskExecStdinWrite", "TaskExecStdinWriteStream"} {
		if fake.Calls(m) == 0 {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		t.Errorf("no exchange of %v", missing)
	}
}

// errRecorder is a testing.TB that keeps the fake's reports instead of
// failing the test.
type errRecorder struct {
	*testing.T
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *errRecorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := strings.Join(r.errs, "\n")
	r.errs = nil
	return e
}

// The fake's checks can fail: a wrong credential header, a field the
// SDK's types do not know, and a timeout in milliseconds where Modal
// wants seconds are each reported, where the right request passes.
func TestConformanceCheckCatchesMistakes(t *testing.T) {
	rec := &errRecorder{T: t}
	fake := modalfake.New(rec, modalfake.Options{})
	conn, err := grpc.NewClient(strings.TrimPrefix(fake.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewModalClientClient(conn)
	ctx := ctxT(t, 20*time.Second)
	headers := func(secret string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "x-modal-client-type", fmt.Sprint(int(pb.ClientType_CLIENT_TYPE_LIBMODAL_GO)),
			"x-modal-client-version", "1.0.0", "x-modal-libmodal-version", "modal-go/test",
			"x-modal-token-id", fake.TokenID, "x-modal-token-secret", secret)
	}
	tok, err := c.AuthTokenGet(headers(fake.TokenSecret), &pb.AuthTokenGetRequest{})
	if err != nil || rec.take() != "" {
		t.Fatalf("the right AuthTokenGet: %v", err)
	}
	if _, err := c.AuthTokenGet(headers("wrong"), &pb.AuthTokenGetRequest{}); err == nil || !strings.Contains(rec.take(), "x-modal-token-secret") {
		t.Errorf("a wrong token secret was not reported")
	}
	authed := metadata.AppendToOutgoingContext(headers(fake.TokenSecret), "x-modal-auth-token", tok.GetToken(), "x-idempotency-key", "k1")
	unknown := pb.AppGetOrCreateRequest_builder{AppName: "a", ObjectCreationType: pb.ObjectCreationType_OBJECT_CREATION_TYPE_CREATE_IF_MISSING}.Build()
	unknown.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 1))
	if _, err := c.AppGetOrCreate(authed, unknown); err == nil || !strings.Contains(rec.take(), "unknown fields") {
		t.Errorf("an unknown field was not reported")
	}
	app, err := c.AppGetOrCreate(authed, pb.AppGetOrCreateRequest_builder{AppName: "a", ObjectCreationType: pb.ObjectCreationType_OBJECT_CREATION_TYPE_CREATE_IF_MISSING}.Build())
	if err != nil || rec.take() != "" {
		t.Fatalf("the right AppGetOrCreate: %v", err)
	}
	createReq := func(timeoutSecs uint32) *pb.SandboxCreateV2Request {
		return pb.SandboxCreateV2Request_builder{AppId: app.GetAppId(), Definition: pb.Sandbox_builder{
			ImageId: "im-1", TimeoutSecs: timeoutSecs, Workdir: ptr("/workspace")}.Build()}.Build()
	}
	if _, err := c.SandboxCreateV2(authed, createReq(300_000)); err == nil || !strings.Contains(rec.take(), "timeout_secs") {
		t.Errorf("a timeout in milliseconds was not reported")
	}
	made, err := c.SandboxCreateV2(authed, createReq(300))
	if err != nil || rec.take() != "" {
		t.Fatalf("the right SandboxCreateV2: %v", err)
	}
	if _, err := c.SandboxTerminateV2(authed, pb.SandboxTerminateRequest_builder{SandboxId: made.GetSandboxId()}.Build()); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
