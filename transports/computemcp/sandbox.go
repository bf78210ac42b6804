package computemcp

import (
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
)

// openSandboxArgs are open_sandbox's arguments.
type openSandboxArgs struct {
	Provider string `json:"provider,omitempty" jsonschema:"the provider (default: the server's)"`
	Template string `json:"template,omitempty" jsonschema:"the sandbox's template, or for the local provider a language whose runtime it needs"`
}

func (a *openSandboxArgs) check(*Options) error { return nil }

// closeSandboxArgs are close_sandbox's (none).
type closeSandboxArgs struct{}

func (a *closeSandboxArgs) check(*Options) error { return nil }

// sandboxResult is what open_sandbox answers.
type sandboxResult struct {
	computemw.SessionInfo
	// Reused: the session had a sandbox open already.
	Reused bool `json:"reused"`
}

// openSandbox opens the session's sandbox: a session of the kit owned by
// the caller, within the session limits (Config.MaxSessions, the caller's
// share, MaxSessionLifetime), whose lifetime after its last use is the
// MCP session's idle timeout. The MCP session's end destroys it.
func (s *Server) openSandbox(c *call, in *openSandboxArgs) (*mcp.CallToolResult, error) {
	sess := c.sess
	if sess == nil {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "open_sandbox needs an MCP session")
	}
	sess.open.Lock()
	defer sess.open.Unlock()
	if id := sess.sandbox(); id != "" {
		info, err := s.kit.Sessions().Get(c.ctx, id)
		if err == nil {
			return result(sandboxResult{SessionInfo: info, Reused: true}, "sandbox "+info.SandboxID+" is open"), nil
		}
		if computemw.AsError(err).Code != computemw.CodeNotFound {
			return nil, err
		}
		// Its lifetime ended: open another.
		sess.mu.Lock()
		sess.sandboxID, sess.sandboxCtx = "", nil
		sess.mu.Unlock()
	}
	ttl := min(s.opts.IdleTimeout, s.cfg.MaxSessionTTL)
	info, err := s.kit.Sessions().Create(c.ctx, computemw.SessionOptions{Provider: in.Provider, Template: in.Template,
		TTL: ttl, Metadata: map[string]string{"transport": "mcp"}})
	if err != nil {
		return nil, err
	}
	sess.mu.Lock()
	ended := sess.ended
	if !ended {
		sess.sandboxID, sess.sandboxCtx = info.SandboxID, c.ctx
	}
	sess.mu.Unlock()
	if ended {
		s.destroySandbox(c.ctx, info.SandboxID)
		return nil, computemw.Errorf(computemw.CodeNotFound, "the MCP session ended")
	}
	return result(sandboxResult{SessionInfo: info}, "sandbox "+info.SandboxID+" is open"), nil
}

// closeSandbox destroys the session's sandbox; without one it does
// nothing.
func (s *Server) closeSandbox(c *call, _ *closeSandboxArgs) (*mcp.CallToolResult, error) {
	if c.sess == nil {
		return result(map[string]any{"closed": false}, "no sandbox is open"), nil
	}
	sess := c.sess
	sess.open.Lock()
	defer sess.open.Unlock()
	sess.mu.Lock()
	id := sess.sandboxID
	sess.sandboxID, sess.sandboxCtx = "", nil
	sess.mu.Unlock()
	if id == "" {
		return result(map[string]any{"closed": false}, "no sandbox is open"), nil
	}
	if err := s.kit.Sessions().Destroy(c.ctx, id); err != nil && computemw.AsError(err).Code != computemw.CodeNotFound {
		return nil, err
	}
	return result(map[string]any{"closed": true, "sandboxId": id}, "sandbox "+id+" destroyed"), nil
}
