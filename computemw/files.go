package computemw

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// FileOp is one file operation of [Kit.Files].
type FileOp struct {
	// Action is "read", "write", "list", "stat", "mkdir" or "delete".
	Action string
	// Path is the file or directory, relative to the sandbox's working
	// directory or absolute inside the sandbox; "" lists the working
	// directory.
	Path string
	// Data is what "write" writes.
	Data []byte
	// Reader, when set, is what "write" writes instead of Data, streamed
	// into the sandbox ([FileWriter]) and cut at Config.MaxUploadBytes
	// (413 PAYLOAD_TOO_LARGE, and the partial file removed).
	Reader io.Reader
	// Provider names the provider of a sandbox made for the operation; ""
	// is the kit's default. Ignored with SandboxID.
	Provider string
	// SandboxID targets one of the caller's sessions; "" runs the
	// operation in a sandbox made for it (or the request's own sandbox,
	// under an adapter's middleware).
	SandboxID string
}

// FileResult is what [Kit.Files] answers.
type FileResult struct {
	// Content is the file "read" read.
	Content []byte
	// Files are the entries "list" found (never nil after a list).
	Files []FileInfo
	// Info describes the file "stat" looked at.
	Info *FileInfo
	// Written is the number of bytes "write" wrote.
	Written int64
}

// fileOps are the actions of [Kit.Files].
var fileOps = []string{"read", "write", "list", "stat", "mkdir", "delete"}

// errTooManyTransfers refuses a read or write past Config.MaxTransfers.
var errTooManyTransfers = &Error{Code: CodeUnavailable, Message: "too many file transfers, retry later", RetryAfter: capacityRetryAfter}

// Files performs one file operation, as the route POST /files does: in the
// caller's session (op.SandboxID) or in a sandbox made for it, authorized
// as an [OpFiles] action, held to the kit's limits (a read carries at most
// Config.MaxReadBytes, and reads and writes take one of the kit's transfer
// slots), observed and charged. ctx comes from [Kit.Admit]. Invalid
// operations are BAD_REQUEST; another caller's session is NOT_FOUND.
func (k *Kit) Files(ctx context.Context, op FileOp) (*FileResult, error) {
	if !slices.Contains(fileOps, op.Action) {
		return nil, &Error{Code: CodeBadRequest, Message: "Invalid action", Details: map[string]any{"actions": fileOps}}
	}
	a, mw, err := k.fileAction(ctx, &op)
	if err != nil {
		return nil, err
	}
	transfer := op.Action == "read" || op.Action == "write"
	if transfer {
		if !k.transfers.TryAcquire() {
			return nil, k.notRun(ctx, a, errTooManyTransfers)
		}
		defer k.transfers.Release()
	}
	g, release, err := k.target(ctx, a, mw)
	if err != nil {
		return nil, err
	}
	defer release()
	sb := g.raw
	switch op.Action {
	case "read":
		b, err := k.readSmall(ctx, sb, op.Path)
		if err != nil {
			return nil, err
		}
		return &FileResult{Content: b}, nil
	case "write":
		if op.Reader != nil {
			n, err := k.writeFrom(ctx, sb, op.Path, op.Reader)
			return &FileResult{Written: n}, err
		}
		return &FileResult{Written: int64(len(op.Data))}, sb.WriteFile(ctx, op.Path, op.Data)
	case "list":
		files, err := sb.ListFiles(ctx, op.Path)
		if err != nil {
			return nil, err
		}
		if files == nil {
			files = []FileInfo{}
		}
		return &FileResult{Files: files}, nil
	case "stat":
		fi, err := sb.Stat(ctx, op.Path)
		if err != nil {
			return nil, err
		}
		return &FileResult{Info: &fi}, nil
	case "mkdir":
		return &FileResult{}, sb.Mkdir(ctx, op.Path)
	default: // delete
		return &FileResult{}, sb.Remove(ctx, op.Path)
	}
}

// fileAction checks op's path and authorizes it as an OpFiles action of
// the caller (ctx from Kit.Admit) on its target: a session, the request's
// own sandbox (mw), or one to be made.
func (k *Kit) fileAction(ctx context.Context, op *FileOp) (a *Action, mw *governed, err error) {
	if op.Path == "" && op.Action == "list" {
		op.Path = "."
	}
	if err := required("path", op.Path); err != nil {
		return nil, nil, err
	}
	if strings.ContainsRune(op.Path, 0) {
		return nil, nil, Errorf(CodeBadRequest, "field \"path\" contains a NUL byte")
	}
	id := op.SandboxID
	p, plan, err := k.targetProvider(ctx, op.Provider, id)
	if err != nil {
		return nil, nil, err
	}
	a = &Action{Op: OpFiles, Provider: p.Name(), Timeout: k.cfg.DefaultTimeout, SandboxID: id, plan: plan}
	mw = k.requestSandbox(ctx, a)
	if err := k.authorize(ctx, a); err != nil {
		return nil, nil, err
	}
	return a, mw, nil
}

func required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return Errorf(CodeBadRequest, "field %q is required", field)
	}
	return nil
}

func checkLanguage(p Provider, language string) error {
	ll, ok := p.(LanguageLister)
	if !ok {
		return nil
	}
	langs := ll.Languages()
	if slices.Contains(langs, language) {
		return nil
	}
	return &Error{
		Code:    CodeExecution,
		Message: fmt.Sprintf("unsupported language %q", language),
		Details: map[string]any{"supported": langs},
	}
}

// readSmall reads a file for the JSON form of a read, which carries at
// most Config.MaxReadBytes: a larger file is a 413 that points to the
// download action, before anything is read when the provider can tell the
// size first ([FileOpener]).
func (k *Kit) readSmall(ctx context.Context, sb Sandbox, path string) ([]byte, error) {
	limit := k.cfg.MaxReadBytes
	tooLarge := func(size int64) error {
		return &Error{Code: CodePayloadTooLarge,
			Message: fmt.Sprintf("file is %d bytes, over the %d the JSON form carries: use the download action", size, limit),
			Details: map[string]any{"size": size, "limit": limit}}
	}
	if fo, ok := sb.(FileOpener); ok {
		rc, fi, err := fo.OpenFile(ctx, path)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if fi.Size > limit {
			return nil, tooLarge(fi.Size)
		}
		b, err := io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > limit {
			return nil, tooLarge(int64(len(b)))
		}
		return b, nil
	}
	b, err := sb.ReadFile(ctx, path)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(int64(len(b)))
	}
	return b, nil
}

// OpenFile opens a file of a sandbox for streaming, as the download action
// of POST /files does: authorized like [Kit.Files], holding the sandbox
// and one of the kit's transfer slots until the returned reader is
// closed. The provider must stream files ([FileOpener]); otherwise the
// answer is BAD_REQUEST. Close the reader in every case.
func (k *Kit) OpenFile(ctx context.Context, op FileOp) (io.ReadCloser, FileInfo, error) {
	op.Action = "read"
	a, mw, err := k.fileAction(ctx, &op)
	if err != nil {
		return nil, FileInfo{}, err
	}
	if !k.transfers.TryAcquire() {
		return nil, FileInfo{}, k.notRun(ctx, a, errTooManyTransfers)
	}
	g, release, err := k.target(ctx, a, mw)
	if err != nil {
		k.transfers.Release()
		return nil, FileInfo{}, err
	}
	done := func() {
		release()
		k.transfers.Release()
	}
	fo, ok := g.raw.(FileOpener)
	if !ok {
		done()
		return nil, FileInfo{}, Unsupported(g.Provider(), "streaming files (use the read action)")
	}
	rc, fi, err := fo.OpenFile(ctx, op.Path)
	if err != nil {
		done()
		return nil, FileInfo{}, err
	}
	h := &heldFile{ReadCloser: rc, done: done}
	if s, ok := rc.(io.Seeker); ok {
		return heldSeeker{h, s}, fi, nil
	}
	return h, fi, nil
}

// heldSeeker is a held file whose provider's reader seeks (a range of a
// large file is then read without reading what precedes it).
type heldSeeker struct {
	*heldFile
	s io.Seeker
}

func (f heldSeeker) Seek(offset int64, whence int) (int64, error) { return f.s.Seek(offset, whence) }

// heldFile is an open file that holds its sandbox and transfer slot until
// it is closed.
type heldFile struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (f *heldFile) Close() error {
	err := f.ReadCloser.Close()
	f.once.Do(f.done)
	return err
}
