package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/computemw/kit/computemw"
)

// CreateSessionRequest is the body of POST /sandboxes.
type CreateSessionRequest struct {
	Provider string            `json:"provider,omitempty"`
	Language string            `json:"language,omitempty"`
	Template string            `json:"template,omitempty"`
	Timeout  *float64          `json:"timeout,omitempty"` // TTL in milliseconds
	Metadata map[string]string `json:"metadata,omitempty"`
	// Wait is how long, in milliseconds, the request may wait for a
	// session slot when the caller (or the kit) is at its session limit;
	// at most Config.QueueTimeout. Default 0: refuse at once.
	Wait *float64 `json:"wait,omitempty"`
}

// sessionTTL converts a requested TTL in milliseconds.
func (k *API) sessionTTL(ms *float64) (time.Duration, error) {
	if ms == nil {
		return k.cfg.SessionTTL, nil
	}
	if *ms <= 0 || *ms != *ms {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"timeout\" must be a positive number of milliseconds")
	}
	if *ms > float64(k.cfg.MaxSessionTTL.Milliseconds()) {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"timeout\" exceeds the maximum session lifetime of %d ms", k.cfg.MaxSessionTTL.Milliseconds())
	}
	return time.Duration(*ms * float64(time.Millisecond)), nil
}

// handleCreateSession serves POST /sandboxes: a session, owned by the
// caller. An empty body is a session with the defaults.
func (k *API) handleCreateSession(ctx context.Context, r *computemw.Request) (*Response, error) {
	var req CreateSessionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, k.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "reading the body: %v", err)
	}
	// An empty body is a session with the defaults.
	if len(bytes.TrimSpace(body)) > 0 {
		if err := k.DecodeJSON(bytes.NewReader(body), k.cfg.MaxBodyBytes, &req); err != nil {
			return nil, err
		}
	}
	ttl, err := k.sessionTTL(req.Timeout)
	if err != nil {
		return nil, err
	}
	template := req.Template
	if template == "" {
		template = req.Language
	}
	wait, err := k.sessionWait(req.Wait)
	if err != nil {
		return nil, err
	}
	info, err := k.kit.Sessions().Create(ctx, computemw.SessionOptions{Provider: req.Provider, Template: template, TTL: ttl, Metadata: req.Metadata, Wait: wait})
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, info)
}

// sessionWait converts a requested slot wait in milliseconds.
func (k *API) sessionWait(ms *float64) (time.Duration, error) {
	if ms == nil || *ms == 0 {
		return 0, nil
	}
	if *ms < 0 || *ms > float64(k.cfg.QueueTimeout.Milliseconds()) {
		return 0, computemw.Errorf(computemw.CodeBadRequest, "field \"wait\" must be between 0 and %d ms", max(0, k.cfg.QueueTimeout.Milliseconds()))
	}
	return time.Duration(*ms * float64(time.Millisecond)), nil
}

// handleGetSession serves GET /sandboxes/{id}.
func (k *API) handleGetSession(ctx context.Context, r *computemw.Request) (*Response, error) {
	info, err := k.kit.Sessions().Get(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, info)
}

// handleKeepalive serves POST /sandboxes/{id}/keepalive: using a session
// renews its TTL, so this is a use that does nothing else.
func (k *API) handleKeepalive(ctx context.Context, r *computemw.Request) (*Response, error) {
	return k.handleGetSession(ctx, r)
}

// handleDeleteSession serves DELETE /sandboxes/{id}.
func (k *API) handleDeleteSession(ctx context.Context, r *computemw.Request) (*Response, error) {
	if err := k.kit.Sessions().Destroy(ctx, r.Params["id"]); err != nil {
		return nil, err
	}
	return &Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
}

// sessionRoute adapts a stateless operation to /sandboxes/{id}/...: the
// body's sandboxId is the path's.
func (k *API) sessionRoute(h HandlerFunc) HandlerFunc {
	return func(ctx context.Context, r *computemw.Request) (*Response, error) {
		return h(withSessionID(ctx, r.Params["id"]), r)
	}
}

type sessionIDKey struct{}

func withSessionID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, sessionIDKey{}, id)
}

// targetID is the session a request targets: the path's, else the body's.
func targetID(ctx context.Context, fromBody string) string {
	if id, ok := ctx.Value(sessionIDKey{}).(string); ok {
		return id
	}
	return fromBody
}

// handleListSessions serves GET /sandboxes: the caller's sessions.
func (k *API) handleListSessions(ctx context.Context, _ *computemw.Request) (*Response, error) {
	list, err := k.kit.Sessions().List(ctx)
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, map[string]any{"sandboxes": list})
}
