package computemw

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
		Language: req.Language, Code: req.Code, Env: req.Env,
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
	return JSON(http.StatusOK, ExecutionResponse{
		Success:       res.ExitCode == 0,
		Output:        res.Stdout,
		Stderr:        res.Stderr,
		ExitCode:      res.ExitCode,
		ExecutionTime: res.ExecutionTime.Milliseconds(),
		CPUTime:       res.CPUTime.Milliseconds(),
		PeakMemory:    res.PeakMemory,
		SandboxID:     res.SandboxID,
		Provider:      res.Provider,
		Truncated:     res.Truncated,
	})
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

var fileActions = []string{"read", "write", "list", "stat", "mkdir", "delete"}

// handleFiles serves POST /files.
func (k *Kit) handleFiles(ctx context.Context, r *Request) (*Response, error) {
	var req FilesRequest
	if err := DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if !slices.Contains(fileActions, req.Action) {
		return nil, &Error{Code: CodeBadRequest, Message: "Invalid action", Details: map[string]any{"actions": fileActions}}
	}
	if req.Path == "" && req.Action == "list" {
		req.Path = "."
	}
	if err := required("path", req.Path); err != nil {
		return nil, err
	}
	if strings.ContainsRune(req.Path, 0) {
		return nil, Errorf(CodeBadRequest, "field \"path\" contains a NUL byte")
	}
	var data []byte
	if req.Action == "write" {
		var err error
		if data, err = decodeContent(req.Content, req.Encoding); err != nil {
			return nil, Errorf(CodeBadRequest, "%s", err.Error())
		}
	} else if req.Encoding != "" && req.Encoding != "utf8" && req.Encoding != "utf-8" && req.Encoding != "base64" {
		return nil, Errorf(CodeBadRequest, "unknown encoding %q (want utf8 or base64)", req.Encoding)
	}
	id := targetID(ctx, req.SandboxID)
	provider := req.Provider
	if provider == "" && id != "" {
		provider = k.sessionProvider(ctx, id)
	}
	p, err := k.provider(provider)
	if err != nil {
		return nil, err
	}
	a := &Action{Op: OpFiles, Provider: p.Name(), Timeout: k.cfg.DefaultTimeout, SandboxID: id}
	mw := k.requestSandbox(ctx, a)
	if err := k.authorize(ctx, a); err != nil {
		return nil, err
	}
	g, release, err := k.target(ctx, a, mw)
	if err != nil {
		return nil, err
	}
	defer release()
	sb := g.raw

	switch req.Action {
	case "read":
		b, err := sb.ReadFile(ctx, req.Path)
		if err != nil {
			return nil, err
		}
		if req.Encoding == "base64" || !utf8.Valid(b) {
			return JSON(http.StatusOK, FileContent{Content: base64.StdEncoding.EncodeToString(b), Encoding: "base64"})
		}
		return JSON(http.StatusOK, FileContent{Content: string(b), Encoding: "utf8"})
	case "write":
		if err := sb.WriteFile(ctx, req.Path, data); err != nil {
			return nil, err
		}
	case "list":
		files, err := sb.ListFiles(ctx, req.Path)
		if err != nil {
			return nil, err
		}
		if files == nil {
			files = []FileInfo{}
		}
		return JSON(http.StatusOK, FileList{Files: files})
	case "stat":
		fi, err := sb.Stat(ctx, req.Path)
		if err != nil {
			return nil, err
		}
		return JSON(http.StatusOK, fi)
	case "mkdir":
		if err := sb.Mkdir(ctx, req.Path); err != nil {
			return nil, err
		}
	case "delete":
		if err := sb.Remove(ctx, req.Path); err != nil {
			return nil, err
		}
	}
	return JSON(http.StatusOK, map[string]bool{"success": true})
}
