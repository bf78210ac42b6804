package httpapi

import (
	"github.com/computemw/kit/computemw"
)

// handleContext serves the code context messages of the WebSocket
// protocol, on the connection's sandbox:
//
//	context-create {language}            -> context-ready {contextId, language}
//	context-execute {contextId, code}    -> output..., context-result {contextId, exitCode, results, executionError?}
//	context-interrupt {contextId}        (the running execution ends with its KeyboardInterrupt)
//	context-restart {contextId}          -> context-ready {contextId, language}
//	context-delete {contextId}           -> context-deleted {contextId}
//
// Executions run while the connection goes on reading, so that an
// interrupt reaches a running one; each is a governed execution.
func (s *wsSession) handleContext(m *WSMessage) error {
	sb, err := s.sandbox()
	if err != nil {
		return err
	}
	cr, ok := sb.(computemw.ContextRunner)
	if !ok {
		return computemw.Unsupported(sb.Provider(), "code contexts")
	}
	if m.Type != "context-create" && m.ContextID == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "%s needs a contextId", m.Type)
	}
	ctx, err := s.admitMessage(computemw.OpExecute)
	if err != nil {
		return err
	}
	switch m.Type {
	case "context-create":
		c, err := cr.CreateContext(ctx, computemw.ContextOptions{Language: m.Language})
		if err != nil {
			return err
		}
		s.send(WSMessage{Type: "context-ready", ContextID: c.ID, Language: c.Language})
	case "context-interrupt":
		return cr.InterruptContext(ctx, m.ContextID)
	case "context-restart":
		if err := cr.RestartContext(ctx, m.ContextID); err != nil {
			return err
		}
		s.send(WSMessage{Type: "context-ready", ContextID: m.ContextID})
	case "context-delete":
		if err := cr.DeleteContext(ctx, m.ContextID); err != nil {
			return err
		}
		s.send(WSMessage{Type: "context-deleted", ContextID: m.ContextID})
	case "context-execute":
		s.mu.Lock()
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			stdout, stderr := &streamWriter{s: s, stream: "stdout"}, &streamWriter{s: s, stream: "stderr"}
			res, err := cr.RunInContext(ctx, m.ContextID, m.Code, computemw.ExecOptions{Stdout: stdout, Stderr: stderr})
			stdout.flush()
			stderr.flush()
			if err != nil {
				s.sendError(err)
				return
			}
			code := res.ExitCode
			s.send(WSMessage{Type: "context-result", ContextID: m.ContextID, ExitCode: &code, Results: res.Results, ExecutionError: res.Error})
		}()
	}
	return nil
}
