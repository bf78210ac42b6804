package modal

// This file is the only one that speaks to Modal's Go SDK
// (github.com/modal-labs/modal-client/go, pinned in go.mod). The SDK is
// pre-1.0 and changes between minor versions; the rest of the package uses
// the small surface below (sdkClient, sdkSandbox, sdkProcess, sdkFile and
// the error helpers) and never names an SDK type.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	modalsdk "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/computemw/kit/computemw/oteltrace/tracegrpc"
)

// sdkClient is one SDK client, with the App and Image new sandboxes use.
type sdkClient struct {
	c    *modalsdk.Client
	opts Options

	closeOnce sync.Once

	mu     sync.Mutex
	app    *modalsdk.App
	images map[string]*modalsdk.Image // by registry tag; built once each

	buildMu sync.Mutex // Image.Build sets the image's ID: one build at a time
}

// newSDKClient makes the SDK client. The SDK takes the server URL only
// from MODAL_SERVER_URL or a profile of ~/.modal.toml; the provider hands
// it a profile of its own built from Options (see profileConfig), so that
// nothing is read from, or written to, a config file or the environment.
func newSDKClient(o Options) (*sdkClient, error) {
	if env := os.Getenv(EnvServerURL); env != "" && env != o.ServerURL {
		// The SDK gives MODAL_SERVER_URL precedence over any profile.
		return nil, fmt.Errorf("modal: Options.ServerURL %q differs from %s=%q, which the SDK would use", o.ServerURL, EnvServerURL, env)
	}
	noThrottleWait := time.Duration(0) // throttling is answered with 429 and Retry-After, not waited out
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	params := &modalsdk.ClientParams{
		TokenID:               o.TokenID,
		TokenSecret:           o.TokenSecret,
		Environment:           o.Environment,
		Logger:                logger,
		MaxThrottleWait:       &noThrottleWait,
		GRPCUnaryInterceptors: []grpc.UnaryClientInterceptor{markSent, tracegrpc.UnaryClientInterceptor()},
		// Calls made in a step the kit traces are client spans under it.
		// The SDK takes no dial option, so otelgrpc's stats handler cannot
		// be given to it, and its command router (exec) takes no
		// interceptor: those calls are not traced.
		GRPCStreamInterceptors: []grpc.StreamClientInterceptor{tracegrpc.StreamClientInterceptor()},
	}
	if err := profileConfig(params, o.ServerURL); err != nil {
		return nil, err
	}
	c, err := modalsdk.NewClientWithOptions(params)
	if err != nil {
		return nil, fmt.Errorf("modal: %w", err)
	}
	return &sdkClient{c: c, opts: o, images: map[string]*modalsdk.Image{}}, nil
}

// profileConfig gives the SDK a config with one active profile that names
// the server URL. ClientParams.Config has an unexported type (a map of
// profile name to profile), so it is built by reflection over the
// profile's exported fields; a renamed field fails here, at New, rather
// than silently reaching api.modal.com.
func profileConfig(params *modalsdk.ClientParams, serverURL string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("modal: this SDK version's config cannot be set: %v", r)
		}
	}()
	field := reflect.ValueOf(params).Elem().FieldByName("Config")
	if !field.IsValid() || field.Kind() != reflect.Pointer || field.Type().Elem().Kind() != reflect.Map {
		return errors.New("modal: this SDK version has no ClientParams.Config profile map")
	}
	cfgType := field.Type().Elem()
	profile := reflect.New(cfgType.Elem()).Elem()
	url := profile.FieldByName("ServerURL")
	active := profile.FieldByName("Active")
	if !url.CanSet() || !active.CanSet() {
		return errors.New("modal: this SDK version's profile has no settable ServerURL and Active")
	}
	url.SetString(serverURL)
	active.SetBool(true)
	name := os.Getenv("MODAL_PROFILE") // the SDK looks this profile up by name
	if name == "" {
		name = "computemw"
	}
	cfg := reflect.MakeMap(cfgType)
	cfg.SetMapIndex(reflect.ValueOf(name), profile)
	ptr := reflect.New(cfgType)
	ptr.Elem().Set(cfg)
	field.Set(ptr)
	return nil
}

func (c *sdkClient) close() { c.closeOnce.Do(c.c.Close) }

// sentKey marks a create's context: the interceptor records there that the
// create request went out, after which its outcome is unknown until
// answered.
type sentKey struct{}

// markSent is a gRPC interceptor: it records that a sandbox create was
// sent (each attempt of the SDK's retries passes here).
func markSent(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if sent, ok := ctx.Value(sentKey{}).(*atomic.Bool); ok && strings.HasPrefix(path.Base(method), "SandboxCreate") {
		sent.Store(true)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// appHandle looks the App up (creating it if missing) once.
func (c *sdkClient) appHandle(ctx context.Context) (*modalsdk.App, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.app != nil {
		return c.app, nil
	}
	app, err := c.c.Apps.FromName(ctx, c.opts.AppName, &modalsdk.AppFromNameParams{CreateIfMissing: true})
	if err != nil {
		return nil, err
	}
	c.app = app
	return app, nil
}

// imageHandle is the Image of a registry tag, one per tag.
func (c *sdkClient) imageHandle(tag string) *modalsdk.Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, ok := c.images[tag]
	if !ok {
		if len(c.images) >= 64 { // bounded: tags come from callers
			clear(c.images)
		}
		img = c.c.Images.FromRegistry(tag, nil)
		c.images[tag] = img
	}
	return img
}

// sdkCreate is what a new sandbox is made with, in the provider's units.
type sdkCreate struct {
	Image        string  // registry tag
	CPU          float64 // cores
	MemoryMiB    int
	Timeout      time.Duration // lifetime, whole seconds
	IdleTimeout  time.Duration // whole seconds; zero leaves Modal's default
	Workdir      string
	Env          map[string]string
	BlockNetwork bool
	Tags         map[string]string
}

// create makes a sandbox in the provider's App from its Image. sent
// reports whether the create request went out (so that, on an error, Modal
// may still make the sandbox).
func (c *sdkClient) create(ctx context.Context, spec sdkCreate) (s *sdkSandbox, sent bool, err error) {
	var mark atomic.Bool
	ctx = context.WithValue(ctx, sentKey{}, &mark)
	defer func() { sent = mark.Load() }()
	app, err := c.appHandle(ctx)
	if err != nil {
		return nil, false, err
	}
	c.buildMu.Lock()
	img, err := c.imageHandle(spec.Image).Build(ctx, app, nil)
	c.buildMu.Unlock()
	if err != nil {
		return nil, false, err
	}
	sb, err := c.c.Sandboxes.Create(ctx, app, img, &modalsdk.SandboxCreateParams{
		CPU:          spec.CPU,
		MemoryMiB:    spec.MemoryMiB,
		Timeout:      spec.Timeout,
		IdleTimeout:  spec.IdleTimeout,
		Workdir:      spec.Workdir,
		Env:          spec.Env,
		BlockNetwork: spec.BlockNetwork,
		Tags:         spec.Tags,
	})
	if err != nil {
		return nil, false, err
	}
	return &sdkSandbox{sb: sb}, true, nil
}

// fromID opens a handle on a sandbox by ID and checks that it runs:
// running reports false for one that has finished.
func (c *sdkClient) fromID(ctx context.Context, id string) (s *sdkSandbox, running bool, err error) {
	sb, err := c.c.Sandboxes.FromID(ctx, id, nil)
	if err != nil {
		return nil, false, err
	}
	code, err := sb.Poll(ctx, nil)
	if err != nil {
		_ = sb.Detach()
		return nil, false, err
	}
	return &sdkSandbox{sb: sb}, code == nil, nil
}

// list returns the IDs of the running sandboxes of the provider's App that
// carry all the tags, at most limit of them when limit > 0.
func (c *sdkClient) list(ctx context.Context, tags map[string]string, limit int) ([]string, error) {
	app, err := c.appHandle(ctx)
	if err != nil {
		return nil, err
	}
	seq, err := c.c.Sandboxes.List(ctx, &modalsdk.SandboxListParams{AppID: app.AppID, Tags: tags})
	if err != nil {
		return nil, err
	}
	var ids []string
	for sb, err := range seq {
		if err != nil {
			return nil, err
		}
		ids = append(ids, sb.SandboxID)
		_ = sb.Detach()
		if limit > 0 && len(ids) >= limit {
			break
		}
	}
	return ids, nil
}

// terminate ends a sandbox by ID.
func (c *sdkClient) terminate(ctx context.Context, id string) error {
	sb, err := c.c.Sandboxes.FromID(ctx, id, nil)
	if err != nil {
		return err
	}
	defer sb.Detach()
	_, err = sb.Terminate(ctx, nil)
	return err
}

// sdkSandbox is a handle on one sandbox.
type sdkSandbox struct{ sb *modalsdk.Sandbox }

func (s *sdkSandbox) id() string { return s.sb.SandboxID }

// terminate ends the sandbox.
func (s *sdkSandbox) terminate(ctx context.Context) error {
	_, err := s.sb.Terminate(ctx, nil)
	return err
}

// detach lets the handle's connections go; the sandbox runs on.
func (s *sdkSandbox) detach() { _ = s.sb.Detach() }

// sdkExec is how a command runs.
type sdkExec struct {
	Workdir string // absolute
	Env     map[string]string
	Timeout time.Duration // rounded up to whole seconds; Modal ends the command then
}

// sdkProcess is a running command: its streams and its wait.
type sdkProcess struct {
	Stdin          io.WriteCloser
	Stdout, Stderr io.ReadCloser
	p              *modalsdk.ContainerProcess
}

// wait returns the command's exit code (128+n for a signal).
func (p *sdkProcess) wait(ctx context.Context) (int, error) { return p.p.Wait(ctx, nil) }

// exec starts argv in the sandbox.
func (s *sdkSandbox) exec(ctx context.Context, argv []string, e sdkExec) (*sdkProcess, error) {
	p, err := s.sb.Exec(ctx, argv, &modalsdk.SandboxExecParams{
		Stdout:  modalsdk.Pipe,
		Stderr:  modalsdk.Pipe,
		Workdir: e.Workdir,
		Env:     e.Env,
		Timeout: wholeSeconds(e.Timeout),
	})
	if err != nil {
		return nil, err
	}
	return &sdkProcess{Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr, p: p}, nil
}

// wholeSeconds rounds d up to whole seconds, the SDK's unit for timeouts.
func wholeSeconds(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// sdkFile is what the SDK's filesystem says about a path.
type sdkFile struct {
	Name, Path, Type string // Type: "file", "directory", "symlink"
	Size             int64
	Modified         time.Time
}

func fileOf(fi modalsdk.FileInfo) sdkFile {
	sec, frac := math.Modf(fi.ModifiedTime)
	return sdkFile{Name: fi.Name, Path: fi.Path, Type: string(fi.Type), Size: fi.Size,
		Modified: time.Unix(int64(sec), int64(frac*1e9)).UTC()}
}

func (s *sdkSandbox) readFile(ctx context.Context, abs string) ([]byte, error) {
	return s.sb.Filesystem.ReadBytes(ctx, abs, nil)
}

func (s *sdkSandbox) writeFile(ctx context.Context, abs string, data []byte) error {
	return s.sb.Filesystem.WriteBytes(ctx, data, abs, nil)
}

func (s *sdkSandbox) listFiles(ctx context.Context, abs string) ([]sdkFile, error) {
	list, err := s.sb.Filesystem.ListFiles(ctx, abs, nil)
	if err != nil {
		return nil, err
	}
	out := make([]sdkFile, 0, len(list))
	for _, fi := range list {
		out = append(out, fileOf(fi))
	}
	return out, nil
}

func (s *sdkSandbox) stat(ctx context.Context, abs string) (sdkFile, error) {
	fi, err := s.sb.Filesystem.Stat(ctx, abs, nil)
	if err != nil {
		return sdkFile{}, err
	}
	return fileOf(*fi), nil
}

func (s *sdkSandbox) mkdir(ctx context.Context, abs string) error {
	parents := true
	return s.sb.Filesystem.MakeDirectory(ctx, abs, &modalsdk.SandboxFilesystemMakeDirectoryParams{CreateParents: &parents})
}

func (s *sdkSandbox) remove(ctx context.Context, abs string) error {
	return s.sb.Filesystem.Remove(ctx, abs, &modalsdk.SandboxFilesystemRemoveParams{Recursive: true})
}

// sdkErrorClass says which kit class one of the SDK's own error types
// belongs to; ok is false for an error of another kind (a gRPC status,
// the context's, ...), which errors.go classifies.
func sdkErrorClass(err error) (class errClass, ok bool) {
	var (
		notFound    modalsdk.NotFoundError
		fsNotFound  modalsdk.SandboxFilesystemNotFoundError
		notDir      modalsdk.SandboxFilesystemNotADirectoryError
		isDir       modalsdk.SandboxFilesystemIsADirectoryError
		perm        modalsdk.SandboxFilesystemPermissionError
		exists      modalsdk.SandboxFilesystemPathAlreadyExistsError
		notEmpty    modalsdk.SandboxFilesystemDirectoryNotEmptyError
		tooLarge    modalsdk.SandboxFilesystemFileTooLargeError
		fsErr       modalsdk.SandboxFilesystemError
		invalid     modalsdk.InvalidError
		conflict    modalsdk.ConflictError
		already     modalsdk.AlreadyExistsError
		exhausted   modalsdk.ResourceExhaustedError
		execTimeout modalsdk.ExecTimeoutError
		timeout     modalsdk.TimeoutError
		sbTimeout   modalsdk.SandboxTimeoutError
		closed      modalsdk.ClientClosedError
	)
	switch {
	case errors.As(err, &notFound), errors.As(err, &fsNotFound):
		return classNotFound, true
	case errors.As(err, &notDir), errors.As(err, &isDir), errors.As(err, &perm), errors.As(err, &exists),
		errors.As(err, &notEmpty), errors.As(err, &invalid), errors.As(err, &already):
		return classBadRequest, true
	case errors.As(err, &tooLarge), errors.As(err, &exhausted):
		return classResource, true
	case errors.As(err, &execTimeout), errors.As(err, &timeout), errors.As(err, &sbTimeout):
		return classTimeout, true
	case errors.As(err, &conflict):
		return classNotFound, true // the sandbox has already finished
	case errors.As(err, &closed), errors.As(err, &fsErr):
		return classUnavailable, true
	}
	return 0, false
}

// retryAfterOf is the wait Modal asks for in a throttling answer (the
// RPCRetryPolicy detail of a RESOURCE_EXHAUSTED status), if any.
func retryAfterOf(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if p, ok := d.(*pb.RPCRetryPolicy); ok {
			return time.Duration(float64(p.GetRetryAfterSecs()) * float64(time.Second)), true
		}
	}
	return 0, false
}
