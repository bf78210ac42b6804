package computemw

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
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
	if err := checkEnv(req.Env); err != nil {
		return nil, err
	}
	files, err := decodeFiles(req.Files)
	if err != nil {
		return nil, err
	}
	p, err := k.Provider(req.Provider)
	if err != nil {
		return nil, err
	}
	if err := checkLanguage(p, req.Language); err != nil {
		return nil, err
	}
	a := &Action{Op: OpExecute, Provider: p.Name(), Language: req.Language, Timeout: timeout, SandboxID: targetID(ctx, req.SandboxID)}
	if err := k.authorize(ctx, a); err != nil {
		return nil, err
	}
	sb, release, err := k.sandboxFor(ctx, a)
	if err != nil {
		return nil, k.notRun(ctx, a, err)
	}
	defer release()
	for _, f := range files {
		if err := sb.WriteFile(ctx, f.path, f.data); err != nil {
			return nil, k.notRun(ctx, a, fmt.Errorf("files[%q]: %w", f.path, err))
		}
	}
	res, err := k.run(ctx, a, func() (*Result, error) {
		return sb.RunCode(ctx, req.Language, req.Code, ExecOptions{
			Env:     req.Env,
			Stdin:   strings.NewReader(req.Stdin),
			Timeout: a.Timeout,
		})
	})
	return k.executionResponse(sb, res, err)
}

// decodeExec reads and validates the body of an exec: POST /exec and its
// event-stream form.
func (k *Kit) decodeExec(r *Request) (ExecRequest, time.Duration, error) {
	var req ExecRequest
	if err := DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return req, 0, err
	}
	if err := required("command", req.Command); err != nil {
		return req, 0, err
	}
	timeout, err := k.timeoutFrom(req.Timeout)
	if err != nil {
		return req, 0, err
	}
	return req, timeout, checkEnv(req.Env)
}

// handleExec serves POST /exec: run a shell command line.
func (k *Kit) handleExec(ctx context.Context, r *Request) (*Response, error) {
	req, timeout, err := k.decodeExec(r)
	if err != nil {
		return nil, err
	}
	p, err := k.Provider(req.Provider)
	if err != nil {
		return nil, err
	}
	a := &Action{Op: OpExec, Provider: p.Name(), Timeout: timeout, SandboxID: targetID(ctx, req.SandboxID)}
	if err := k.authorize(ctx, a); err != nil {
		return nil, err
	}
	sb, release, err := k.sandboxFor(ctx, a)
	if err != nil {
		return nil, k.notRun(ctx, a, err)
	}
	defer release()
	res, err := k.run(ctx, a, func() (*Result, error) {
		return sb.Exec(ctx, req.Command, ExecOptions{
			Cwd:     req.Cwd,
			Env:     req.Env,
			Stdin:   strings.NewReader(req.Stdin),
			Timeout: a.Timeout,
		})
	})
	return k.executionResponse(sb, res, err)
}

// executionResponse turns a provider's result into the contract's body, or
// into an error carrying the partial output.
func (k *Kit) executionResponse(sb Sandbox, res *Result, err error) (*Response, error) {
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
		SandboxID:     sb.ID(),
		Provider:      sb.Provider(),
		Truncated:     res.Truncated,
	})
}

// sandboxFor returns the sandbox an authorized action runs in: the named
// session, the request's sandbox from middleware, or a new one destroyed by
// the returned release function.
func (k *Kit) sandboxFor(ctx context.Context, a *Action) (Sandbox, func(), error) {
	if a.SandboxID != "" {
		s, release, err := k.session(ctx, a.SandboxID)
		if err != nil {
			return nil, nil, err
		}
		if s.sb.Provider() != a.Provider {
			release()
			return nil, nil, Errorf(CodeBadRequest, "sandbox %q runs on provider %q, not %q", a.SandboxID, s.sb.Provider(), a.Provider)
		}
		return s.sb, release, nil
	}
	if sb := SandboxFrom(ctx); sb != nil && sb.Provider() == a.Provider {
		return sb, func() {}, nil
	}
	return k.Acquire(ctx, a.Provider, a.Create)
}

// notRun reports an authorized action that failed before it could run
// (unknown session, sandbox creation, input files) to the hooks as a
// rejection, so that what policies reserved for it (a quota's execution)
// is given back. It returns err.
func (k *Kit) notRun(ctx context.Context, a *Action, err error) error {
	k.rejected(ctx, a.Op, err)
	return err
}

// run performs one execution between the hooks' started and finished
// calls.
func (k *Kit) run(ctx context.Context, a *Action, exec func() (*Result, error)) (*Result, error) {
	for _, h := range k.cfg.Hooks {
		h.ExecutionStarted(ctx, a)
	}
	start := time.Now()
	res, err := exec()
	took := time.Since(start)
	for _, h := range k.cfg.Hooks {
		h.ExecutionFinished(ctx, a, res, err, took)
	}
	return res, err
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

type decodedFile struct {
	path string
	data []byte
}

func decodeFiles(specs []FileSpec) ([]decodedFile, error) {
	out := make([]decodedFile, 0, len(specs))
	for i, f := range specs {
		if f.Path == "" {
			return nil, Errorf(CodeBadRequest, "files[%d]: field \"path\" is required", i)
		}
		data, err := decodeContent(f.Content, f.Encoding)
		if err != nil {
			return nil, Errorf(CodeBadRequest, "files[%d]: %s", i, err.Error())
		}
		out = append(out, decodedFile{path: f.Path, data: data})
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
	p, err := k.Provider(req.Provider)
	if err != nil {
		return nil, err
	}
	a := &Action{Op: OpFiles, Provider: p.Name(), Timeout: k.cfg.DefaultTimeout, SandboxID: targetID(ctx, req.SandboxID)}
	if err := k.authorize(ctx, a); err != nil {
		return nil, err
	}
	sb, release, err := k.sandboxFor(ctx, a)
	if err != nil {
		return nil, k.notRun(ctx, a, err)
	}
	defer release()

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
