package modalfake

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// control is the fake's control plane: the ModalClient methods the SDK
// calls for sandboxes.
type control struct {
	pb.UnimplementedModalClientServer
	s *Server
}

func (c *control) AuthTokenGet(ctx context.Context, _ *pb.AuthTokenGetRequest) (*pb.AuthTokenGetResponse, error) {
	return pb.AuthTokenGetResponse_builder{Token: c.s.authToken}.Build(), nil
}

func (c *control) AppGetOrCreate(ctx context.Context, req *pb.AppGetOrCreateRequest) (*pb.AppGetOrCreateResponse, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.apps[req.GetAppName()]
	if !ok {
		if req.GetObjectCreationType() != pb.ObjectCreationType_OBJECT_CREATION_TYPE_CREATE_IF_MISSING {
			return nil, status.Errorf(codes.NotFound, "app %q not found", req.GetAppName())
		}
		id = s.nextID("ap")
		s.apps[req.GetAppName()] = id
	}
	return pb.AppGetOrCreateResponse_builder{AppId: id}.Build(), nil
}

func (c *control) EnvironmentGetOrCreate(ctx context.Context, req *pb.EnvironmentGetOrCreateRequest) (*pb.EnvironmentGetOrCreateResponse, error) {
	return pb.EnvironmentGetOrCreateResponse_builder{
		EnvironmentId: "en-fake",
		Metadata: pb.EnvironmentMetadata_builder{
			Name:     req.GetDeploymentName(),
			Settings: pb.EnvironmentSettings_builder{ImageBuilderVersion: "2025.06"}.Build(),
		}.Build(),
	}.Build(), nil
}

func (c *control) ImageGetOrCreate(ctx context.Context, req *pb.ImageGetOrCreateRequest) (*pb.ImageGetOrCreateResponse, error) {
	cmds := req.GetImage().GetDockerfileCommands()
	if len(cmds) == 0 || !strings.HasPrefix(cmds[0], "FROM ") || req.GetBuilderVersion() == "" {
		c.s.t.Errorf("modalfake: ImageGetOrCreate: dockerfile %q, builder version %q", cmds, req.GetBuilderVersion())
		return nil, status.Error(codes.InvalidArgument, "bad image")
	}
	return pb.ImageGetOrCreateResponse_builder{
		ImageId: "im-" + strings.NewReplacer(":", "-", "/", "-", " ", "-").Replace(cmds[0][5:]),
		Result:  pb.GenericResult_builder{Status: pb.GenericResult_GENERIC_STATUS_SUCCESS}.Build(),
	}.Build(), nil
}

// checkDefinition fails the test on a sandbox definition in wrong units.
func (c *control) checkDefinition(def *pb.Sandbox) error {
	var problems []string
	if t := def.GetTimeoutSecs(); t < 1 || t > 24*3600 {
		problems = append(problems, fmt.Sprintf("timeout_secs %d is not 1s..24h (seconds expected)", t))
	}
	if def.HasIdleTimeoutSecs() {
		if t := def.GetIdleTimeoutSecs(); t < 1 || t > 24*3600 {
			problems = append(problems, fmt.Sprintf("idle_timeout_secs %d is not 1s..24h (seconds expected)", t))
		}
	}
	if m := def.GetResources().GetMilliCpu(); m != 0 && (m < 125 || m > 64000) {
		problems = append(problems, fmt.Sprintf("milli_cpu %d is not 125..64000 (thousandths of a core expected)", m))
	}
	if m := def.GetResources().GetMemoryMb(); m != 0 && (m < 128 || m > 1<<20) {
		problems = append(problems, fmt.Sprintf("memory_mb %d is not 128..1048576 (MiB expected)", m))
	}
	if w := def.GetWorkdir(); !strings.HasPrefix(w, "/") || w != filepath.Clean(w) {
		problems = append(problems, fmt.Sprintf("workdir %q is not a clean absolute path", w))
	}
	if def.GetImageId() == "" {
		problems = append(problems, "no image_id")
	}
	if len(problems) > 0 {
		c.s.t.Errorf("modalfake: SandboxCreateV2: %v", problems)
		return status.Errorf(codes.InvalidArgument, "%v", problems)
	}
	return nil
}

func (c *control) SandboxCreateV2(ctx context.Context, req *pb.SandboxCreateV2Request) (*pb.SandboxCreateV2Response, error) {
	s := c.s
	def := req.GetDefinition()
	if err := c.checkDefinition(def); err != nil {
		return nil, err
	}
	key := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("x-idempotency-key")) == 1 {
		key = md.Get("x-idempotency-key")[0]
	}
	if key == "" {
		s.t.Errorf("modalfake: SandboxCreateV2 without x-idempotency-key")
	}
	s.mu.Lock()
	known := false
	for _, id := range s.apps {
		known = known || id == req.GetAppId()
	}
	if !known {
		s.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "app %q not found", req.GetAppId())
	}
	if id, ok := s.byKey[key]; ok && key != "" { // a retry of a create already made
		sb := s.sandboxes[id]
		s.mu.Unlock()
		return c.created(sb), nil
	}
	s.mu.Unlock()
	if f := s.fault("SandboxCreateV2"); f != nil {
		if f.CreateAfterGiveUp {
			<-ctx.Done()
			s.mu.Lock()
			_, err := s.makeSandbox(req, key)
			s.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, faultError(f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, err := s.makeSandbox(req, key)
	if err != nil {
		return nil, err
	}
	return c.created(sb), nil
}

func (c *control) created(sb *sandbox) *pb.SandboxCreateV2Response {
	return pb.SandboxCreateV2Response_builder{
		SandboxId:           sb.id,
		TaskId:              sb.taskID,
		CommandRouterAccess: pb.CommandRouterAccess_builder{Jwt: c.s.routerJWT, Url: c.s.routerURL}.Build(),
	}.Build()
}

// makeSandbox records a new sandbox; s.mu is held.
func (s *Server) makeSandbox(req *pb.SandboxCreateV2Request, key string) (*sandbox, error) {
	def := req.GetDefinition()
	id := s.nextID("sb2") // not the V1 shape (sb- and 22 characters): a V2 sandbox
	sb := &sandbox{
		id: id, appID: req.GetAppId(), taskID: s.nextID("ta"),
		dir: filepath.Join(s.root, id), workdir: def.GetWorkdir(),
		env: map[string]string{}, tags: map[string]string{},
		created: float64(time.Now().UnixNano()) / 1e9, execs: map[string]*execution{}, ended: make(chan struct{}),
	}
	for _, src := range req.GetSecretSources() {
		for k, v := range src.GetEnv().GetContents() {
			sb.env[k] = v
		}
	}
	for _, tag := range req.GetTags() {
		sb.tags[tag.GetTagName()] = tag.GetTagValue()
	}
	sb.def = Definition{
		MilliCPU: def.GetResources().GetMilliCpu(), MemoryMB: def.GetResources().GetMemoryMb(),
		TimeoutSecs: def.GetTimeoutSecs(), IdleTimeoutSecs: def.GetIdleTimeoutSecs(), Workdir: def.GetWorkdir(),
		NetworkBlocked: def.GetNetworkAccess().GetNetworkAccessType() == pb.NetworkAccess_BLOCKED,
		Env:            sb.env, Tags: sb.tags,
	}
	if err := mkdirAll(sb.dir); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	sb.timer = time.AfterFunc(time.Duration(def.GetTimeoutSecs())*time.Second, sb.terminate)
	s.sandboxes[id] = sb
	if key != "" {
		s.byKey[key] = id
	}
	s.made++
	return sb, nil
}

func (s *Server) lookup(id string) (*sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, ok := s.sandboxes[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "sandbox %q not found", id)
	}
	return sb, nil
}

func (c *control) SandboxGetTaskIdV2(ctx context.Context, req *pb.SandboxGetTaskIdRequest) (*pb.SandboxGetTaskIdResponse, error) {
	sb, err := c.s.lookup(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.finished() {
		return pb.SandboxGetTaskIdResponse_builder{TaskResult: terminated()}.Build(), nil
	}
	return pb.SandboxGetTaskIdResponse_builder{TaskId: &sb.taskID}.Build(), nil
}

func (c *control) SandboxGetCommandRouterAccess(ctx context.Context, req *pb.SandboxGetCommandRouterAccessRequest) (*pb.SandboxGetCommandRouterAccessResponse, error) {
	sb, err := c.s.lookup(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.finished() {
		return nil, status.Error(codes.FailedPrecondition, "sandbox has finished")
	}
	return pb.SandboxGetCommandRouterAccessResponse_builder{Jwt: c.s.routerJWT, Url: c.s.routerURL}.Build(), nil
}

func terminated() *pb.GenericResult {
	return pb.GenericResult_builder{Status: pb.GenericResult_GENERIC_STATUS_TERMINATED}.Build()
}

func (c *control) SandboxWaitV2(ctx context.Context, req *pb.SandboxWaitRequest) (*pb.SandboxWaitResponse, error) {
	sb, err := c.s.lookup(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	if t := req.GetTimeout(); t > 0 && !sb.finished() {
		timer := time.NewTimer(time.Duration(float64(t) * float64(time.Second)))
		defer timer.Stop()
		select {
		case <-sb.ended:
		case <-timer.C:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	meta := pb.SandboxHandleMetadata_builder{AppId: sb.appID}.Build()
	if sb.finished() {
		return pb.SandboxWaitResponse_builder{Result: terminated(), Metadata: meta}.Build(), nil
	}
	return pb.SandboxWaitResponse_builder{Metadata: meta}.Build(), nil
}

func (c *control) SandboxTerminateV2(ctx context.Context, req *pb.SandboxTerminateRequest) (*pb.SandboxTerminateResponse, error) {
	sb, err := c.s.lookup(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	sb.terminate()
	return &pb.SandboxTerminateResponse{}, nil
}

func (c *control) SandboxListV2(ctx context.Context, req *pb.SandboxListRequest) (*pb.SandboxListResponse, error) {
	s := c.s
	if req.GetAppId() == "" && req.GetEnvironmentName() == "" {
		s.t.Errorf("modalfake: SandboxListV2 neither scoped to an app nor to an environment")
	}
	want := map[string]string{}
	for _, tag := range req.GetTags() {
		want[tag.GetTagName()] = tag.GetTagValue()
	}
	s.mu.Lock()
	var match []*sandbox
	for _, sb := range s.sandboxes {
		if req.GetAppId() != "" && sb.appID != req.GetAppId() {
			continue
		}
		if !req.GetIncludeFinished() && sb.finished() {
			continue
		}
		if b := req.GetBeforeTimestamp(); b > 0 && sb.created >= b {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && sb.tags[k] == v
		}
		if ok {
			match = append(match, sb)
		}
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool { return match[i].created > match[j].created })
	if len(match) > s.opts.ListPageSize {
		match = match[:s.opts.ListPageSize]
	}
	infos := make([]*pb.SandboxInfo, 0, len(match))
	for _, sb := range match {
		var tags []*pb.SandboxTag
		for k, v := range sb.tags {
			tags = append(tags, pb.SandboxTag_builder{TagName: k, TagValue: v}.Build())
		}
		infos = append(infos, pb.SandboxInfo_builder{Id: sb.id, AppId: sb.appID, CreatedAt: sb.created, Tags: tags}.Build())
	}
	return pb.SandboxListResponse_builder{Sandboxes: infos}.Build(), nil
}
