package e2bfake

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/computemw/kit/providers/e2b/internal/envd/process/processconnect"
)

type sandboxKey struct{}

// serveEnvd serves one sandbox's envd: /files, /health and the Connect
// services.
func (f *Fake) serveEnvd(w http.ResponseWriter, r *http.Request, id string) {
	f.mu.Lock()
	sb := f.sandboxes[id]
	f.mu.Unlock()
	if sb == nil || sb.isPaused() {
		// The proxy in front of envd answers for a sandbox that is gone
		// or paused: not an answer envd's description covers.
		notDescribed(w)
		writeError(w, http.StatusBadGateway, "sandbox not found")
		return
	}
	if r.URL.Path == "/health" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if got := r.Header.Get("X-Access-Token"); sb.token != "" && got != sb.token {
		f.errorf("envd %s %s: X-Access-Token is %q, want the sandbox's envdAccessToken", r.Method, r.URL.Path, got)
		writeError(w, http.StatusUnauthorized, "invalid access token")
		return
	}
	if r.Header.Get("X-API-Key") != "" {
		f.errorf("envd %s %s: the API key was sent to envd", r.Method, r.URL.Path)
	}
	r = r.WithContext(context.WithValue(r.Context(), sandboxKey{}, sb))
	switch {
	case r.URL.Path == "/files" && r.Method == http.MethodGet:
		f.download(w, r, sb)
	case r.URL.Path == "/files" && r.Method == http.MethodPost:
		f.upload(w, r, sb)
	case strings.HasPrefix(r.URL.Path, "/"+processconnect.ProcessName+"/"),
		strings.HasPrefix(r.URL.Path, "/"+filesystemconnect.FilesystemName+"/"):
		if !f.connectProtocol(r) {
			writeError(w, http.StatusUnsupportedMediaType, "not the Connect protocol")
			return
		}
		if op := rpcOps[r.URL.Path]; op != "" && answerFault(w, f.takeRedirect(op)) {
			return
		}
		if !f.checkUser(w, r, sb) {
			return
		}
		f.rpc.ServeHTTP(w, r)
	default:
		f.errorf("unknown envd route %s %s", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, "no such route")
	}
}

// rpcOps names the RPCs a Fault can name.
var rpcOps = map[string]string{
	processconnect.ProcessStartProcedure:         OpStart,
	processconnect.ProcessSendInputProcedure:     OpSendInput,
	processconnect.ProcessSendSignalProcedure:    OpSignal,
	filesystemconnect.FilesystemStatProcedure:    OpStat,
	filesystemconnect.FilesystemListDirProcedure: OpListDir,
}

// connectProtocol checks that an RPC is spoken in the Connect protocol
// (not gRPC or gRPC-Web), as envd's clients do.
func (f *Fake) connectProtocol(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/connect+"):
		return true // a streaming RPC
	case ct == "application/proto" || ct == "application/json":
		if r.Header.Get("Connect-Protocol-Version") != "1" {
			f.errorf("envd %s: unary Connect RPC without Connect-Protocol-Version: 1", r.URL.Path)
			return false
		}
		return true
	}
	f.errorf("envd %s: Content-Type %q is not the Connect protocol", r.URL.Path, ct)
	return false
}

// fileQuery checks /files's query parameters and returns the host path.
func (f *Fake) fileQuery(w http.ResponseWriter, r *http.Request, sb *sandbox) (string, bool) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "path", "username", "signature", "signature_expiration":
		default:
			f.errorf("envd %s /files: unknown query parameter %q", r.Method, k)
		}
	}
	p := q.Get("path")
	if p == "" {
		writeError(w, http.StatusBadRequest, "path is required")
		return "", false
	}
	host, err := sb.hostPath(p)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return host, true
}

func (f *Fake) download(w http.ResponseWriter, r *http.Request, sb *sandbox) {
	if answerFault(w, f.take(OpDownload)) {
		return
	}
	if !f.checkUser(w, r, sb) {
		return
	}
	host, ok := f.fileQuery(w, r, sb)
	if !ok {
		return
	}
	file, err := os.Open(host)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, "path '"+r.URL.Query().Get("path")+"' does not exist")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil || fi.IsDir() {
		writeError(w, http.StatusBadRequest, "path '"+r.URL.Query().Get("path")+"' is a directory")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, file)
}

func (f *Fake) upload(w http.ResponseWriter, r *http.Request, sb *sandbox) {
	if answerFault(w, f.take(OpUpload)) {
		return
	}
	if !f.checkUser(w, r, sb) {
		return
	}
	host, ok := f.fileQuery(w, r, sb)
	if !ok {
		return
	}
	var body io.Reader
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/octet-stream":
		if !sb.has(gateOctetStream) {
			f.errorf("envd POST /files: an application/octet-stream body, which envd %s does not take (from 0.5.7)", sb.version)
			writeError(w, http.StatusBadRequest, "unsupported content type")
			return
		}
		if r.ContentLength == 0 {
			// The API requires a body; an empty raw one is none.
			f.errorf("envd POST /files: an empty body, where the API requires one")
			writeError(w, http.StatusBadRequest, "request body is required")
			return
		}
		body = r.Body
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		part, err := mr.NextPart()
		if err != nil || part.FormName() != "file" {
			f.errorf("envd POST /files: a multipart body without a \"file\" part")
			writeError(w, http.StatusBadRequest, "no file part")
			return
		}
		body = part
	default:
		f.errorf("envd POST /files: Content-Type %q is neither application/octet-stream nor multipart/form-data", r.Header.Get("Content-Type"))
		writeError(w, http.StatusBadRequest, "unsupported content type")
		return
	}
	if fi, err := os.Stat(host); err == nil && fi.IsDir() {
		writeError(w, http.StatusBadRequest, "path is a directory")
		return
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	file, err := os.Create(host)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	_, err = io.Copy(file, body)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	p := sb.sandboxPath(host)
	writeJSON(w, http.StatusOK, []map[string]string{{"path": p, "name": filepath.Base(host), "type": "file"}})
}
