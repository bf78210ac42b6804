package httpapi

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

	"github.com/computemw/kit/computemw"
)

// handleExecute serves POST /execute: run code in a language.
func (k *API) handleExecute(ctx context.Context, r *computemw.Request) (*Response, error) {
	var req ExecuteRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if err := errors.Join(required("language", req.Language), required("code", req.Code)); err != nil {
		return nil, firstError(err)
	}
	timeout, err := k.timeoutFrom(req.Timeout)
	if err != nil {
		return nil, err
	}
	compileTimeout, err := k.compileTimeoutFrom(req.CompileTimeout)
	if err != nil {
		return nil, err
	}
	files, err := decodeFiles(req.Files)
	if err != nil {
		return nil, err
	}
	res, err := k.kit.Execute(ctx, computemw.Run{
		Provider: req.Provider, SandboxID: targetID(ctx, req.SandboxID),
		Language: req.Language, Code: req.Code, Env: req.Env, Args: req.Args,
		Stdin: strings.NewReader(req.Stdin), Timeout: timeout, Files: files,
		Version: req.Version, CompileOptions: req.CompileOptions, CompileTimeout: compileTimeout,
		MergeStderr: req.MergeStderr,
	})
	return k.executionResponse(res, err)
}

// decodeExec reads and validates the body of an exec: POST /exec and its
// event-stream form.
func (k *API) decodeExec(ctx context.Context, r *computemw.Request) (computemw.Run, error) {
	var req ExecRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return computemw.Run{}, err
	}
	if err := required("command", req.Command); err != nil {
		return computemw.Run{}, err
	}
	timeout, err := k.timeoutFrom(req.Timeout)
	if err != nil {
		return computemw.Run{}, err
	}
	return computemw.Run{
		Provider: req.Provider, SandboxID: targetID(ctx, req.SandboxID), Command: req.Command,
		Cwd: req.Cwd, Env: req.Env, Stdin: strings.NewReader(req.Stdin), Timeout: timeout,
		MergeStderr: req.MergeStderr,
	}, nil
}

// handleExec serves POST /exec: run a shell command line.
func (k *API) handleExec(ctx context.Context, r *computemw.Request) (*Response, error) {
	run, err := k.decodeExec(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := k.kit.Execute(ctx, run)
	return k.executionResponse(res, err)
}

// executionResponse turns a result into the contract's body, or into an
// error carrying the partial output.
func (k *API) executionResponse(res *computemw.Result, err error) (*Response, error) {
	if err != nil {
		e := computemw.AsError(err)
		if _, partial := e.Details.(*computemw.Result); res != nil && (e.Details == nil || partial) && (e.Code == computemw.CodeTimeout || e.Code == computemw.CodeResource) {
			c := *e
			c.Details = PartialOutput{Output: res.Stdout, Stderr: res.Stderr, Truncated: res.Truncated}
			e = &c
		}
		return nil, e
	}
	if k.cfg.StrictExitCode && res.ExitCode != 0 {
		return nil, &computemw.Error{Code: computemw.CodeExecution, Message: fmt.Sprintf("program exited with code %d", res.ExitCode), Details: res.Stderr}
	}
	return JSON(http.StatusOK, NewExecutionResponse(res))
}

func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

func decodeFiles(specs []FileSpec) ([]computemw.File, error) {
	out := make([]computemw.File, 0, len(specs))
	for i, f := range specs {
		if f.Path == "" {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "files[%d]: field \"path\" is required", i)
		}
		data, err := decodeContent(f.Content, f.Encoding)
		if err != nil {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "files[%d]: %s", i, err.Error())
		}
		out = append(out, computemw.File{Path: f.Path, Data: data})
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

// handleFiles serves POST /files: the JSON form of [computemw.Kit.Files], and the
// download action, which streams the file.
func (k *API) handleFiles(ctx context.Context, r *computemw.Request) (*Response, error) {
	var req FilesRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if !slices.Contains(fileActions, req.Action) {
		return nil, &computemw.Error{Code: computemw.CodeBadRequest, Message: "Invalid action", Details: map[string]any{"actions": fileActions}}
	}
	op := computemw.FileOp{Action: req.Action, Path: req.Path, Provider: req.Provider, SandboxID: targetID(ctx, req.SandboxID)}
	if req.Action == "write" {
		data, err := decodeContent(req.Content, req.Encoding)
		if err != nil {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "%s", err.Error())
		}
		op.Data = data
	} else if req.Encoding != "" && req.Encoding != "utf8" && req.Encoding != "utf-8" && req.Encoding != "base64" {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "unknown encoding %q (want utf8 or base64)", req.Encoding)
	}
	if req.Action == "download" {
		return k.serveDownload(ctx, op)
	}
	res, err := k.kit.Files(ctx, op)
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
// as application/octet-stream with its length, the sandbox and a transfer
// slot held until the stream ends ([computemw.Kit.OpenFile]).
func (k *API) serveDownload(ctx context.Context, op computemw.FileOp) (*Response, error) {
	rc, fi, err := k.kit.OpenFile(ctx, op)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 4)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(fi.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	return &Response{Status: http.StatusOK, Header: h, Stream: func(sctx context.Context, w io.Writer, flush func() error) error {
		defer rc.Close()
		stop := context.AfterFunc(sctx, func() { rc.Close() })
		defer stop()
		_, err := io.Copy(w, io.LimitReader(rc, fi.Size))
		return err
	}}, nil
}

// required refuses a field that is empty or only blanks.
func required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "field %q is required", field)
	}
	return nil
}
