package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/computemw/kit/computemw"
)

// StartProcessRequest is the body of POST /sandboxes/{id}/processes.
type StartProcessRequest struct {
	Command string            `json:"command"`
	Cwd     string            `json:"cwd,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// handleStartProcess serves POST /sandboxes/{id}/processes: a background
// process in one of the caller's sessions.
func (k *API) handleStartProcess(ctx context.Context, r *computemw.Request) (*Response, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, k.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "reading the body: %v", err)
	}
	var req StartProcessRequest
	if err := k.DecodeJSON(bytes.NewReader(body), k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	pm, release, err := k.processManager(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	defer release()
	info, err := pm.StartProcess(ctx, req.Command, computemw.ProcessOptions{Cwd: req.Cwd, Env: req.Env})
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, info)
}

// handleListProcesses serves GET /sandboxes/{id}/processes.
func (k *API) handleListProcesses(ctx context.Context, r *computemw.Request) (*Response, error) {
	pm, release, err := k.processManager(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	defer release()
	procs, err := pm.Processes(ctx)
	if err != nil {
		return nil, err
	}
	if procs == nil {
		procs = []computemw.ProcessInfo{}
	}
	return JSON(http.StatusOK, map[string]any{"processes": procs})
}

// handleKillProcess serves DELETE /sandboxes/{id}/processes/{pid}.
func (k *API) handleKillProcess(ctx context.Context, r *computemw.Request) (*Response, error) {
	pid, err := strconv.Atoi(r.Params["pid"])
	if err != nil || pid <= 0 {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "pid %q is not a process ID", r.Params["pid"])
	}
	pm, release, err := k.processManager(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	defer release()
	if err := pm.KillProcess(ctx, pid); err != nil {
		return nil, err
	}
	return &Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
}

// processManager is the process manager of one of the caller's sessions,
// in use until release is called. A provider without background processes
// is BAD_REQUEST.
func (k *API) processManager(ctx context.Context, id string) (computemw.ProcessManager, func(), error) {
	sb, release, err := k.kit.Sessions().Sandbox(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	pm, ok := sb.(computemw.ProcessManager)
	if !ok {
		release()
		return nil, nil, computemw.Unsupported(sb.Provider(), "background processes")
	}
	return pm, release, nil
}
