package computemw

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

func required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return Errorf(CodeBadRequest, "field %q is required", field)
	}
	return nil
}

// handleExecute serves POST /execute: run code in a language.
func (k *Kit) handleExecute(ctx context.Context, r *Request) (*Response, error) {
	var req ExecuteRequest
	if err := DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if err := errors.Join(required("language", req.Language), required("code", req.Code)); err != nil {
		return nil, firstError(err)
	}
	timeout, err := k.timeoutFrom(req.Timeout)
	if err != nil {
		return nil, err
	}
	files, err := decodeFiles(req.Files)
	if err != nil {
		return nil, err
	}
	res, err := k.Execute(ctx, Run{
		Provider: req.Provider, SandboxID: targetID(ctx, req.SandboxID),
		Language: req.Language, Code: req.Code, Env: req.Env, Args: req.Args,
		Stdin: strings.NewReader(req.Stdin), Timeout: timeout, Files: files,
	})
	return k.executionResponse(res, err)
}

// decodeExec reads and validates the body of an exec: POST /exec and its
// event-stream form.
func (k *Kit) decodeExec(ctx context.Context, r *Request) (Run, error) {
	var req ExecRequest
	if err := DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return Run{}, err
	}
	if err := required("command", req.Command); err != nil {
		return Run{}, err
	}
	timeout, err := k.timeoutFrom(req.Timeout)
	if err != nil {
		return Run{}, err
	}
	return Run{
		Provider: req.Provider, SandboxID: targetID(ctx, req.SandboxID), Command: req.Command,
		Cwd: req.Cwd, Env: req.Env, Stdin: strings.NewReader(req.Stdin), Timeout: timeout,
	}, nil
}

// handleExec serves POST /exec: run a shell command line.
func (k *Kit) handleExec(ctx context.Context, r *Request) (*Response, error) {
	run, err := k.decodeExec(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := k.Execute(ctx, run)
	return k.executionResponse(res, err)
}

// executionResponse turns a result into the contract's body, or into an
// error carrying the partial output.
func (k *Kit) executionResponse(res *Result, err error) (*Response, error) {
	if err != nil {
		e := AsError(err)
		if res != nil && e.Details == nil && (e.Code == CodeTimeout || e.Code == CodeResource) {
			c := *e
			c.Details = PartialOutput{Output: res.Stdout, Stderr: res.Stderr, Truncated: res.Truncated}
			e = &c
		}
		return nil, e
	}
	if k.cfg.StrictExitCode && res.ExitCode != 0 {
		return nil, &Error{Code: CodeExecution, Message: fmt.Sprintf("program exited with code %d", res.ExitCode), Details: res.Stderr}
	}
	return JSON(http.StatusOK, res.Response())
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

func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

func decodeFiles(specs []FileSpec) ([]File, error) {
	out := make([]File, 0, len(specs))
	for i, f := range specs {
		if f.Path == "" {
			return nil, Errorf(CodeBadRequest, "files[%d]: field \"path\" is required", i)
		}
		data, err := decodeContent(f.Content, f.Encoding)
		if err != nil {
			return nil, Errorf(CodeBadRequest, "files[%d]: %s", i, err.Error())
		}
		out = append(out, File{Path: f.Path, Data: data})
	}
	return out, nil
}

func decodeContent(content, encoding string) ([]byte, error) {
	switch encoding {
	case "", "utf8", "utf-8":
		return []byte(content), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, errors.New("content is not valid base64")
		}
		return b, nil
	default:
		return nil, fmt.Errorf("unknown encoding %q (want utf8 or base64)", encoding)
	}
}

var fileActions = []string{"read", "download", "write", "list", "stat", "mkdir", "delete"}

// handleFiles serves POST /files: the JSON form of [Kit.Files], and the
// download action, which streams the file.
func (k *Kit) handleFiles(ctx context.Context, r *Request) (*Response, error) {
	var req FilesRequest
	if err := DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if !slices.Contains(fileActions, req.Action) {
		return nil, &Error{Code: CodeBadRequest, Message: "Invalid action", Details: map[string]any{"actions": fileActions}}
	}
	op := FileOp{Action: req.Action, Path: req.Path, Provider: req.Provider, SandboxID: req.SandboxID}
	if req.Action == "write" {
		data, err := decodeContent(req.Content, req.Encoding)
		if err != nil {
			return nil, Errorf(CodeBadRequest, "%s", err.Error())
		}
		op.Data = data
	} else if req.Encoding != "" && req.Encoding != "utf8" && req.Encoding != "utf-8" && req.Encoding != "base64" {
		return nil, Errorf(CodeBadRequest, "unknown encoding %q (want utf8 or base64)", req.Encoding)
	}
	if req.Action == "download" {
		return k.serveDownload(ctx, op)
	}
	res, err := k.Files(ctx, op)
	if err != nil {
		return nil, err
	}
	switch req.Action {
	case "read":
		if req.Encoding == "base64" || !utf8.Valid(res.Content) {
			return JSON(http.StatusOK, FileContent{Content: base64.StdEncoding.EncodeToString(res.Content), Encoding: "base64"})
		}
		return JSON(http.StatusOK, FileContent{Content: string(res.Content), Encoding: "utf8"})
	case "list":
		return JSON(http.StatusOK, FileList{Files: res.Files})
	case "stat":
		return JSON(http.StatusOK, res.Info)
	}
	return JSON(http.StatusOK, map[string]bool{"success": true})
}

// serveDownload is the download action of POST /files: the file streamed
// as application/octet-stream, with the sandbox and a transfer slot held
// until the stream ends.
func (k *Kit) serveDownload(ctx context.Context, op FileOp) (*Response, error) {
	a, mw, err := k.fileAction(ctx, &op)
	if err != nil {
		return nil, err
	}
	if !k.transfers.TryAcquire() {
		return nil, k.notRun(ctx, a, errTooManyTransfers)
	}
	g, release, err := k.target(ctx, a, mw)
	if err != nil {
		k.transfers.Release()
		return nil, err
	}
	return k.download(ctx, g, op.Path, func() {
		release()
		k.transfers.Release()
	})
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

// download streams a file as application/octet-stream with its length;
// done runs when the stream ends.
func (k *Kit) download(ctx context.Context, g *governed, path string, done func()) (*Response, error) {
	fo, ok := g.raw.(FileOpener)
	if !ok {
		done()
		return nil, Errorf(CodeBadRequest, "provider %q cannot stream files: use the read action", g.Provider())
	}
	rc, fi, err := fo.OpenFile(ctx, path)
	if err != nil {
		done()
		return nil, err
	}
	h := make(http.Header, 4)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(fi.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	return &Response{Status: http.StatusOK, Header: h, Stream: func(sctx context.Context, w io.Writer, flush func() error) error {
		defer done()
		defer rc.Close()
		stop := context.AfterFunc(sctx, func() { rc.Close() })
		defer stop()
		_, err := io.Copy(w, io.LimitReader(rc, fi.Size))
		return err
	}}, nil
}
