package daytonafake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/providers/internal/fakekit"
)

func (s *Server) toolbox(q *request) {
	s.mu.Lock()
	sb := s.sandboxes[q.sandboxID]
	state := ""
	if sb != nil {
		state = sb.state
	}
	s.mu.Unlock()
	if sb == nil {
		writeErr(q.w, q.r, 404, "sandbox not found")
		return
	}
	if state != "started" {
		writeErr(q.w, q.r, 409, "sandbox is not started")
		return
	}
	switch q.op {
	case "GetWorkDir":
		writeJSON(q.w, 200, map[string]string{"dir": sb.workDir})
	case "ListFiles", "GetFileInfo", "DownloadFile", "UploadFile", "DeleteFile", "CreateFolder":
		s.files(q, sb)
	case "CreateSession":
		var body struct {
			SessionID string `json:"sessionId"`
		}
		if !q.decode(&body) {
			return
		}
		sb.pmu.Lock()
		_, dup := sb.sessions[body.SessionID]
		if !dup && !sb.dead {
			sb.sessions[body.SessionID] = &session{id: body.SessionID, cmds: map[string]*command{}}
		}
		sb.pmu.Unlock()
		if dup {
			writeErr(q.w, q.r, 409, "session exists")
			return
		}
		q.w.WriteHeader(201)
	case "DeleteSession":
		if !sb.deleteSession(q.params["sessionId"]) {
			writeErr(q.w, q.r, 404, "session not found")
			return
		}
		q.w.WriteHeader(204)
	case "SessionExecuteCommand":
		s.sessionExec(q, sb)
	case "GetSessionCommand", "GetSessionCommandLogs", "SendInput":
		c := sb.command(q.params["sessionId"], q.params["commandId"])
		if c == nil {
			writeErr(q.w, q.r, 404, "command not found")
			return
		}
		s.commandOp(q, c)
	case "CodeRun":
		s.codeRun(q, sb)
	default:
		s.t.Errorf("daytonafake: %s is in the spec but not used by the provider", q.op)
		writeErr(q.w, q.r, 501, "not implemented by the fake")
	}
}

func (s *Server) sessionExec(q *request, sb *sandbox) {
	var body struct {
		Command           string `json:"command"`
		RunAsync          *bool  `json:"runAsync"`
		Async             *bool  `json:"async"`
		SuppressInputEcho *bool  `json:"suppressInputEcho"`
	}
	if !q.decode(&body) {
		return
	}
	s.mu.Lock()
	s.seq++
	cmdID := fmt.Sprintf("cmd-%d", s.seq)
	s.mu.Unlock()
	c, err := sb.start(q.params["sessionId"], cmdID, body.Command)
	if errors.Is(err, errNoSession) {
		writeErr(q.w, q.r, 404, err.Error())
		return
	}
	if err != nil {
		writeErr(q.w, q.r, 400, err.Error())
		return
	}
	if (body.RunAsync != nil && *body.RunAsync) || (body.Async != nil && *body.Async) {
		writeJSON(q.w, 202, map[string]any{"cmdId": cmdID})
		return
	}
	select {
	case <-c.done:
	case <-q.r.Context().Done():
		return
	}
	out, errOut, exit := c.logs()
	writeJSON(q.w, 200, map[string]any{"cmdId": cmdID, "exitCode": *exit, "stdout": out, "stderr": errOut, "output": out + errOut})
}

func (s *Server) commandOp(q *request, c *command) {
	switch q.op {
	case "GetSessionCommand":
		_, _, exit := c.logs()
		body := map[string]any{"id": c.id, "command": c.line}
		if exit != nil {
			body["exitCode"] = *exit
		}
		writeJSON(q.w, 200, body)
	case "GetSessionCommandLogs":
		if q.query("follow") == "true" {
			s.t.Errorf("daytonafake: GetSessionCommandLogs: follow is WebSocket only")
		}
		out, errOut, _ := c.logs()
		writeLogs(q, out, errOut)
	case "SendInput":
		var body struct {
			Data string `json:"data"`
		}
		if !q.decode(&body) {
			return
		}
		select {
		case <-c.done:
			writeErr(q.w, q.r, 400, "command has exited")
			return
		default:
		}
		if _, err := io.WriteString(c.stdin, body.Data); err != nil {
			writeErr(q.w, q.r, 400, "command is not reading input")
			return
		}
		q.w.WriteHeader(204)
	}
}

// interpreters of the code-run endpoint.
var interpreters = map[string]string{"python": "python3", "javascript": "node", "typescript": "tsx"}

func (s *Server) codeRun(q *request, sb *sandbox) {
	var body struct {
		Code     string            `json:"code"`
		Language string            `json:"language"`
		Envs     map[string]string `json:"envs"`
		Timeout  *int              `json:"timeout"`
		Argv     []string          `json:"argv"`
	}
	if !q.decode(&body) {
		return
	}
	if body.Timeout != nil && (*body.Timeout < 0 || *body.Timeout > maxMinutes) {
		s.t.Errorf("daytonafake: CodeRun: timeout %d is not a plausible number of seconds: wrong unit?", *body.Timeout)
	}
	bin, ok := interpreters[body.Language]
	if !ok {
		writeErr(q.w, q.r, 400, "unsupported language")
		return
	}
	if _, err := exec.LookPath(bin); err != nil {
		writeErr(q.w, q.r, 400, bin+" is not installed")
		return
	}
	timeout := 10 * time.Second
	if body.Timeout != nil && *body.Timeout > 0 {
		timeout = time.Duration(*body.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-")
	cmd.Dir = sb.workDir
	cmd.Env = sb.environ(body.Envs)
	cmd.Stdin = strings.NewReader(body.Code)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	writeJSON(q.w, 200, map[string]any{"result": string(out), "exitCode": code})
}

func (s *Server) files(q *request, sb *sandbox) {
	p := q.query("path")
	if p == "" && q.op == "ListFiles" {
		p = sb.workDir
	}
	if !inside(sb.dir, p) {
		s.t.Errorf("daytonafake: %s: path %q is not an absolute path in the sandbox", q.op, p)
		writeErr(q.w, q.r, 400, "invalid path")
		return
	}
	switch q.op {
	case "ListFiles":
		ents, err := os.ReadDir(p)
		if err != nil {
			fileErr(q.w, q.r, err)
			return
		}
		list := []map[string]any{}
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				list = append(list, fileInfo(fi))
			}
		}
		writeJSON(q.w, 200, list)
	case "GetFileInfo":
		fi, err := os.Lstat(p)
		if err != nil {
			fileErr(q.w, q.r, err)
			return
		}
		writeJSON(q.w, 200, fileInfo(fi))
	case "DownloadFile":
		s.download(q, p)
	case "UploadFile":
		if _, err := os.Stat(filepath.Dir(p)); err != nil {
			writeErr(q.w, q.r, 400, "parent directory does not exist")
			return
		}
		mr := multipart.NewReader(strings.NewReader(string(q.body)), boundary(q.r))
		part, err := mr.NextPart()
		if err != nil || part.FormName() != "file" {
			s.t.Errorf("daytonafake: UploadFile: no multipart part named file (%v)", err)
			writeErr(q.w, q.r, 400, "no file")
			return
		}
		f, err := os.Create(p)
		if err != nil {
			fileErr(q.w, q.r, err)
			return
		}
		_, err = io.Copy(f, part)
		f.Close()
		if err != nil {
			writeErr(q.w, q.r, 500, err.Error())
			return
		}
		writeJSON(q.w, 200, map[string]any{"message": "File uploaded successfully"})
	case "DeleteFile":
		fi, err := os.Lstat(p)
		if err != nil {
			fileErr(q.w, q.r, err)
			return
		}
		if fi.IsDir() && q.query("recursive") != "true" {
			writeErr(q.w, q.r, 400, "is a directory; set recursive")
			return
		}
		if err := os.RemoveAll(p); err != nil {
			writeErr(q.w, q.r, 500, err.Error())
			return
		}
		q.w.WriteHeader(204)
	case "CreateFolder":
		mode, err := strconv.ParseUint(q.query("mode"), 8, 32)
		if err != nil {
			s.t.Errorf("daytonafake: CreateFolder: mode %q is not octal", q.query("mode"))
			writeErr(q.w, q.r, 400, "invalid mode")
			return
		}
		if err := os.MkdirAll(p, os.FileMode(mode)); err != nil {
			fileErr(q.w, q.r, err)
			return
		}
		q.w.WriteHeader(201)
	}
}

func (s *Server) download(q *request, p string) {
	fi, err := os.Stat(p)
	if err != nil {
		fileErr(q.w, q.r, err)
		return
	}
	if fi.IsDir() {
		writeErr(q.w, q.r, 400, "is a directory")
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		fileErr(q.w, q.r, err)
		return
	}
	q.w.Header().Set("Content-Type", "application/octet-stream")
	q.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	f := q.fault
	if f == nil || (f.ResetAfterBytes <= 0 && f.ChunkDelay <= 0) {
		q.w.WriteHeader(200)
		q.w.Write(data)
		return
	}
	q.w.WriteHeader(200)
	if f.ResetAfterBytes > 0 {
		q.w.Write(data[:min(f.ResetAfterBytes, len(data))])
		http.NewResponseController(q.w).Flush()
		fakekit.HangUp(q.w)
		return
	}
	size := f.ChunkSize
	if size <= 0 {
		size = 64
	}
	for len(data) > 0 {
		n := min(size, len(data))
		if _, err := q.w.Write(data[:n]); err != nil {
			return
		}
		http.NewResponseController(q.w).Flush()
		data = data[n:]
		t := time.NewTimer(f.ChunkDelay)
		select {
		case <-t.C:
		case <-q.r.Context().Done():
			t.Stop()
			return
		}
	}
}

func boundary(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	_, b, _ := strings.Cut(ct, "boundary=")
	return strings.Trim(b, `"`)
}

func fileErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		writeErr(w, r, 404, "no such file or directory")
	case errors.Is(err, fs.ErrPermission):
		writeErr(w, r, 403, "permission denied")
	default:
		writeErr(w, r, 400, err.Error())
	}
}

// fileInfo is the FileInfo of the toolbox spec.
func fileInfo(fi fs.FileInfo) map[string]any {
	return map[string]any{
		"name": fi.Name(), "size": fi.Size(), "isDir": fi.IsDir(), "mode": fi.Mode().String(),
		"permissions": fmt.Sprintf("%04o", fi.Mode().Perm()), "owner": "daytona", "group": "daytona",
		"modTime": fi.ModTime().String(), "modifiedAt": fi.ModTime().UTC().Format(time.RFC3339Nano),
	}
}
