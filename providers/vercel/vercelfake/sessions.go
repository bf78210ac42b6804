package vercelfake

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/computemw/kit/providers/internal/fakekit"
)

// sessionOp answers the operations on one session.
func (s *Server) sessionOp(q *request, ss *session) {
	s.mu.Lock()
	status := ss.status
	s.mu.Unlock()
	switch q.op {
	case "getSession":
		s.mu.Lock()
		if ss.status == "pending" {
			if ss.pendingPolls--; ss.pendingPolls <= 0 {
				ss.status = "running"
				ss.startedAt = nowMs()
			}
		}
		body := map[string]any{"session": sessionPayload(ss), "routes": routes(ss)}
		s.mu.Unlock()
		writeJSON(q.w, 200, body)
		return
	case "stopSession":
		s.stopSession(ss)
		s.mu.Lock()
		body := map[string]any{"session": sessionPayload(ss)}
		if s.sandboxes[ss.name] == ss {
			body["sandbox"] = sandboxPayload(ss)
		}
		s.mu.Unlock()
		writeJSON(q.w, 200, body)
		return
	case "getCommand", "getLogs":
		// A stopped session's commands can still be read.
	default:
		if status != "running" {
			writeErr(q.w, 410, "sandbox_stopped", "Sandbox is stopped")
			return
		}
	}
	switch q.op {
	case "extendTimeout":
		var req struct {
			Duration int64 `json:"duration"`
		}
		if !q.decode(&req) {
			return
		}
		s.mu.Lock()
		ss.timeout += req.Duration
		ss.updatedAt = nowMs()
		body := map[string]any{"session": sessionPayload(ss)}
		s.mu.Unlock()
		writeJSON(q.w, 200, body)
	case "runCommand":
		s.runCommand(q, ss)
	case "openInteractive":
		token := randomToken()
		s.mu.Lock()
		s.tokens[token] = ss.id
		s.mu.Unlock()
		writeJSON(q.w, 200, map[string]any{"url": "ws://" + q.r.Host + "/interactive/" + ss.id, "token": token})
	case "getCommand", "killCommand", "getLogs":
		c := ss.command(q.params["cmdId"])
		if c == nil {
			writeErr(q.w, 404, "not_found", "Command not found: "+q.params["cmdId"])
			return
		}
		s.commandOp(q, c)
	case "writeFiles":
		s.writeFiles(q, ss)
	case "readFile":
		s.readFile(q, ss)
	case "mkDir":
		var req pathRequest
		if !q.decode(&req) {
			return
		}
		p, ok := ss.resolve(req.Cwd, req.Path)
		if !ok {
			writeErr(q.w, 400, "bad_request", "path outside the sandbox")
			return
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			writeErr(q.w, 400, "bad_request", "mkdir failed: "+errors.Unwrap(err).Error())
			return
		}
		writeJSON(q.w, 200, map[string]any{})
	default:
		writeErr(q.w, 404, "not_found", "no route")
	}
}

type pathRequest struct {
	Path string `json:"path"`
	Cwd  string `json:"cwd"`
}

// resolve maps a path of the sandbox (absolute, or relative to cwd or the
// session's working directory) to the host; ok is false for a path
// outside the session's directory.
func (ss *session) resolve(cwd, p string) (string, bool) {
	if cwd == "" {
		cwd = ss.cwd
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(cwd, p)
	}
	c := filepath.Clean(p)
	return c, c == ss.dir || strings.HasPrefix(c, ss.dir+string(filepath.Separator))
}

type runRequest struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Cwd     string            `json:"cwd"`
	Env     map[string]string `json:"env"`
	Sudo    bool              `json:"sudo"`
	Wait    bool              `json:"wait"`
	Logs    bool              `json:"logs"`
	Timeout int64             `json:"timeout"`
}

// runCommand starts a command; with wait it streams, as ndjson, the
// command, its output (with logs) and the finished command.
func (s *Server) runCommand(q *request, ss *session) {
	var req runRequest
	if !q.decode(&req) {
		return
	}
	cwd, ok := ss.resolve("", req.Cwd)
	if req.Cwd == "" {
		cwd = ss.cwd
	}
	if !ok {
		writeErr(q.w, 400, "bad_request", "cwd outside the sandbox")
		return
	}
	if fi, err := os.Stat(cwd); err != nil || !fi.IsDir() {
		writeErr(q.w, 400, "bad_request", "cwd is not a directory")
		return
	}
	c, err := ss.start(req.Command, req.Args, cwd, req.Env, req.Timeout)
	if errors.Is(err, errStopped) {
		writeErr(q.w, 410, "sandbox_stopped", "Sandbox is stopped")
		return
	}
	if err != nil {
		writeErr(q.w, 400, "command_failed", err.Error())
		return
	}
	if !req.Wait {
		writeJSON(q.w, 200, map[string]any{"command": c.payload()})
		return
	}
	q.w.Header().Set("Content-Type", "application/x-ndjson")
	q.w.WriteHeader(200)
	out := &lineWriter{s: s, q: q}
	if !out.line(map[string]any{"command": c.payload()}) {
		return
	}
	if !s.follow(q, c, req.Logs, out) {
		return
	}
	out.line(map[string]any{"command": c.payload()})
}

// lineWriter writes ndjson lines, applying a stream fault.
type lineWriter struct {
	s     *Server
	q     *request
	lines int
}

// line writes one line and flushes it; false means the stream is over
// (the client left, or a fault cut it).
func (w *lineWriter) line(v any) bool {
	f := w.q.fault
	if f != nil && f.ChunkDelay > 0 && !fakekit.Pause(w.q.r, w.s.closing, f.ChunkDelay) {
		return false
	}
	b, _ := json.Marshal(v)
	if _, err := w.q.w.Write(append(b, '\n')); err != nil {
		return false
	}
	w.lines++
	if err := http.NewResponseController(w.q.w).Flush(); err != nil {
		return false
	}
	if f != nil && f.ResetAfterLines > 0 && w.lines >= f.ResetAfterLines {
		fakekit.HangUp(w.q.w)
		return false
	}
	return true
}

// follow streams a command's output until it ends (true), or the client
// leaves or a fault cuts the stream (false). The command goes on running
// when the client leaves, as on the vendor's side.
func (s *Server) follow(q *request, c *command, logs bool, out *lineWriter) bool {
	next := 0
	for {
		events, exit, changed := c.since(next)
		next += len(events)
		if logs {
			for _, e := range events {
				if !out.line(map[string]any{"stream": e.stream, "data": e.data}) {
					return false
				}
			}
		}
		if exit != nil {
			return true
		}
		select {
		case <-changed:
		case <-q.r.Context().Done():
			return false
		case <-s.closing:
			return false
		}
	}
}

// commandOp answers getCommand, killCommand and getLogs.
func (s *Server) commandOp(q *request, c *command) {
	switch q.op {
	case "getCommand":
		if q.query("wait") == "true" {
			select {
			case <-c.done:
			case <-q.r.Context().Done():
				return
			case <-s.closing:
				return
			}
		}
		writeJSON(q.w, 200, map[string]any{"command": c.payload()})
	case "killCommand":
		var req struct {
			Signal int `json:"signal"`
		}
		if !q.decode(&req) {
			return
		}
		c.signal(syscall.Signal(req.Signal))
		if req.Signal == int(syscall.SIGKILL) {
			<-c.done
		}
		writeJSON(q.w, 200, map[string]any{"command": c.payload()})
	case "getLogs":
		q.w.Header().Set("Content-Type", "application/x-ndjson")
		q.w.WriteHeader(200)
		s.follow(q, c, true, &lineWriter{s: s, q: q})
	}
}

// maxWrite caps the unpacked size of one fs/write.
const maxWrite = 256 << 20

// writeFiles unpacks a gzipped tar into the directory named by x-cwd,
// making parent directories as needed (mock-server.ts fs/write).
func (s *Server) writeFiles(q *request, ss *session) {
	if ct := q.r.Header.Get("Content-Type"); ct != "application/gzip" {
		s.t.Errorf("vercelfake: writeFiles: Content-Type %q, want application/gzip", ct)
	}
	dir, ok := ss.resolve("", q.r.Header.Get("x-cwd"))
	if !ok {
		writeErr(q.w, 400, "bad_request", "x-cwd outside the sandbox")
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(q.body))
	if err != nil {
		writeErr(q.w, 400, "bad_request", "not gzip: "+err.Error())
		return
	}
	tr := tar.NewReader(io.LimitReader(zr, maxWrite))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeErr(q.w, 400, "bad_request", "bad tar: "+err.Error())
			return
		}
		p, ok := ss.resolve(dir, h.Name)
		if !ok {
			writeErr(q.w, 400, "bad_request", "entry outside the sandbox: "+h.Name)
			return
		}
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		if h.Typeflag != tar.TypeReg {
			writeErr(q.w, 400, "bad_request", "unsupported tar entry: "+h.Name)
			return
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			writeErr(q.w, 400, "bad_request", err.Error())
			return
		}
		mode := os.FileMode(h.Mode & 0o777)
		if mode == 0 {
			mode = 0o644
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err != nil {
			writeErr(q.w, 400, "bad_request", err.Error())
			return
		}
		_, err = io.Copy(f, tr)
		f.Close()
		if err != nil {
			writeErr(q.w, 400, "bad_request", err.Error())
			return
		}
	}
	writeJSON(q.w, 200, map[string]any{})
}

// readFile answers a file's bytes as application/octet-stream; a missing
// one is 404.
func (s *Server) readFile(q *request, ss *session) {
	var req pathRequest
	if !q.decode(&req) {
		return
	}
	p, ok := ss.resolve(req.Cwd, req.Path)
	if !ok {
		writeErr(q.w, 400, "bad_request", "path outside the sandbox")
		return
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		writeErr(q.w, 404, "file_not_found", "file not found")
		return
	}
	if err != nil {
		writeErr(q.w, 400, "bad_request", "cannot read: "+errors.Unwrap(err).Error())
		return
	}
	q.w.Header().Set("Content-Type", "application/octet-stream")
	f := q.fault
	if f == nil || (f.ResetAfterBytes == 0 && f.ChunkDelay == 0) {
		q.w.Write(data)
		return
	}
	size := f.ChunkSize
	if size <= 0 {
		size = 64
	}
	q.w.WriteHeader(200)
	for sent := 0; sent < len(data); {
		if f.ResetAfterBytes > 0 && sent >= f.ResetAfterBytes {
			http.NewResponseController(q.w).Flush()
			fakekit.HangUp(q.w)
			return
		}
		n := min(size, len(data)-sent)
		if f.ResetAfterBytes > 0 {
			n = min(n, f.ResetAfterBytes-sent)
		}
		q.w.Write(data[sent : sent+n])
		sent += n
		http.NewResponseController(q.w).Flush()
		if f.ChunkDelay > 0 && sent < len(data) && !fakekit.Pause(q.r, s.closing, f.ChunkDelay) {
			return
		}
	}
}
