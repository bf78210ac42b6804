package computemcp

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
)

// readFileArgs are read_file's arguments.
type readFileArgs struct {
	Path     string `json:"path" jsonschema:"the file, relative to the workspace or absolute inside the sandbox"`
	Encoding string `json:"encoding,omitempty" jsonschema:"utf8 (default) or base64"`
}

func (a *readFileArgs) check(*Options) error {
	return checkFile(a.Path, a.Encoding)
}

// writeFileArgs are write_file's arguments.
type writeFileArgs struct {
	Path     string `json:"path" jsonschema:"the file, relative to the workspace or absolute inside the sandbox"`
	Content  string `json:"content" jsonschema:"what to write"`
	Encoding string `json:"encoding,omitempty" jsonschema:"encoding of content: utf8 (default) or base64"`
}

func (a *writeFileArgs) check(o *Options) error {
	if len(a.Content) > o.MaxCodeBytes {
		return computemw.Errorf(computemw.CodePayloadTooLarge, "content exceeds %d bytes", o.MaxCodeBytes)
	}
	return checkFile(a.Path, a.Encoding)
}

// listFilesArgs are list_files' arguments.
type listFilesArgs struct {
	Path string `json:"path,omitempty" jsonschema:"the directory (default: the workspace)"`
}

func (a *listFilesArgs) check(*Options) error { return nil }

func checkFile(path, encoding string) error {
	if strings.TrimSpace(path) == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "path")
	}
	switch encoding {
	case "", "utf8", "base64":
		return nil
	}
	return computemw.Errorf(computemw.CodeBadRequest, "argument %q must be utf8 or base64", "encoding")
}

// errNoSandbox refuses a file tool outside an open sandbox.
var errNoSandbox = computemw.Errorf(computemw.CodeBadRequest, "no sandbox is open in this MCP session: call open_sandbox first")

// sessionSandbox is the open sandbox of c's session, or errNoSandbox.
func sessionSandbox(c *call) (string, error) {
	if id := c.sandbox(); id != "" {
		return id, nil
	}
	return "", errNoSandbox
}

func (s *Server) readFile(c *call, in *readFileArgs) (*mcp.CallToolResult, error) {
	id, err := sessionSandbox(c)
	if err != nil {
		return nil, err
	}
	res, err := s.kit.Files(c.ctx, computemw.FileOp{Action: "read", Path: in.Path, SandboxID: id})
	if err != nil {
		return nil, err
	}
	enc, content := "utf8", string(res.Content)
	if in.Encoding == "base64" || !utf8.Valid(res.Content) {
		enc, content = "base64", base64.StdEncoding.EncodeToString(res.Content)
	}
	return result(map[string]any{"path": in.Path, "content": content, "encoding": enc, "size": len(res.Content)}, content), nil
}

func (s *Server) writeFile(c *call, in *writeFileArgs) (*mcp.CallToolResult, error) {
	id, err := sessionSandbox(c)
	if err != nil {
		return nil, err
	}
	data := []byte(in.Content)
	if in.Encoding == "base64" {
		if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "argument %q is not valid base64", "content")
		}
	}
	if _, err := s.kit.Files(c.ctx, computemw.FileOp{Action: "write", Path: in.Path, Data: data, SandboxID: id}); err != nil {
		return nil, err
	}
	return result(map[string]any{"success": true, "path": in.Path, "size": len(data)},
		fmt.Sprintf("wrote %d bytes to %s", len(data), in.Path)), nil
}

func (s *Server) listFiles(c *call, in *listFilesArgs) (*mcp.CallToolResult, error) {
	id, err := sessionSandbox(c)
	if err != nil {
		return nil, err
	}
	res, err := s.kit.Files(c.ctx, computemw.FileOp{Action: "list", Path: in.Path, SandboxID: id})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, f := range res.Files {
		fmt.Fprintf(&b, "%s\t%s\t%d\n", f.Name, f.Type, f.Size)
	}
	return result(map[string]any{"files": res.Files}, b.String()), nil
}
