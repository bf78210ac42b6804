package httpapi

import (
	"context"

	"github.com/computemw/kit/computemw"
)

// attach serves create-sandbox with a sandboxId: the connection works in
// the caller's session sandbox (POST /sandboxes) instead of a new one, so
// that what a page runs and types sees the files it manages through
// /sandboxes/{id}/files. The connection holds a use of the session until it
// closes or sends destroy-sandbox, which detach it: the session itself
// lives on, until DELETE /sandboxes/{id} or its TTL (a use renews the TTL
// when it begins). Another caller's session, or an unknown one, is
// NOT_FOUND, as on the HTTP routes.
func (s *wsSession) attach(m *WSMessage) error {
	ctx, err := s.admitMessage(computemw.OpWebSocket)
	if err != nil {
		return err
	}
	sb, release, err := s.k.kit.Sessions().Sandbox(context.WithoutCancel(ctx), m.SandboxID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.sb != nil {
		s.mu.Unlock()
		release()
		return computemw.Errorf(computemw.CodeBadRequest, "a sandbox is already active on this connection")
	}
	s.sb, s.release = sb, release
	s.mu.Unlock()
	s.send(WSMessage{Type: "sandbox-ready", SandboxID: sb.ID(), Provider: sb.Provider()})
	return nil
}
