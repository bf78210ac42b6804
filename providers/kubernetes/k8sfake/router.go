package k8sfake

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// route is the sandbox router: it checks the X-Sandbox-* headers as the
// router does (400 with {"detail"}), strips Authorization, and forwards to
// the sandbox's REST API when the port is sandboxd's; a sandbox it cannot
// reach is 502.
func (p *Plane) route(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		writeJSON(w, 200, map[string]string{"status": "ok"})
		return
	}
	id := r.Header.Get("X-Sandbox-ID")
	ns := r.Header.Get("X-Sandbox-Namespace")
	port := r.Header.Get("X-Sandbox-Port")
	switch {
	case id == "":
		writeJSON(w, 400, map[string]string{"detail": "X-Sandbox-ID header is required."})
		return
	case !isDNSLabel(id):
		writeJSON(w, 400, map[string]string{"detail": "Invalid sandbox ID format."})
		return
	}
	if ns == "" {
		ns = "default"
	} else if !isDNSLabel(ns) {
		writeJSON(w, 400, map[string]string{"detail": "Invalid namespace format."})
		return
	}
	if port == "" {
		port = "8888"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		writeJSON(w, 400, map[string]string{"detail": "Invalid port format."})
		return
	}
	p.mu.Lock()
	p.routed = append(p.routed, id+"/"+ns+"/"+port)
	p.mu.Unlock()
	sb := p.lookup(ns, id)
	if sb == nil || port != strconv.Itoa(FilesPort) {
		writeJSON(w, 502, map[string]string{"detail": "Could not connect to the backend sandbox: " + id})
		return
	}
	r.Header.Del("Authorization")
	sb.serveFiles(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is sandboxd's Error body.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"code": code, "message": msg})
}

// serveFiles is sandboxd's REST API: /v1/health and /v1/files/{path...}
// (GET: bytes or a DirectoryListing; HEAD; PUT: atomic write creating the
// parents, 204; DELETE: 204, 404, 409 for a non-empty directory without
// recursive=true). Paths resolve inside the root (os.Root: no escape,
// symlinks included; an escape is 403).
func (sb *sandbox) serveFiles(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/health" && r.Method == http.MethodGet {
		writeJSON(w, 200, map[string]string{"status": "ok"})
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, "/v1/files/")
	if !ok {
		apiError(w, 404, "NOT_FOUND", "no such endpoint")
		return
	}
	rel = path.Clean("/" + rel)[1:]
	if rel == "" {
		rel = "."
	}
	root, err := os.OpenRoot(sb.root)
	if err != nil {
		apiError(w, 500, "INTERNAL", err.Error())
		return
	}
	defer root.Close()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		sb.get(w, r, root, rel)
	case http.MethodPut:
		if rel == "." {
			apiError(w, 400, "INVALID_ARGUMENT", "path is the root")
			return
		}
		if dir := path.Dir(rel); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				fsError(w, err)
				return
			}
		}
		tmp := rel + ".sandboxd-tmp"
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			fsError(w, err)
			return
		}
		_, err = f.ReadFrom(r.Body)
		f.Close()
		if err == nil {
			err = root.Rename(tmp, rel)
		}
		if err != nil {
			_ = root.Remove(tmp)
			fsError(w, err)
			return
		}
		w.WriteHeader(204)
	case http.MethodDelete:
		if rel == "." {
			apiError(w, 403, "PERMISSION_DENIED", "cannot remove the root")
			return
		}
		if _, err := root.Lstat(rel); err != nil {
			fsError(w, err)
			return
		}
		if r.URL.Query().Get("recursive") == "true" {
			err = root.RemoveAll(rel)
		} else if err = root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			apiError(w, 409, "CONFLICT", "directory is not empty")
			return
		}
		if err != nil {
			fsError(w, err)
			return
		}
		w.WriteHeader(204)
	default:
		apiError(w, 405, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (sb *sandbox) get(w http.ResponseWriter, r *http.Request, root *os.Root, rel string) {
	info, err := root.Stat(rel)
	if err != nil {
		fsError(w, err)
		return
	}
	if !info.IsDir() {
		f, err := root.Open(rel)
		if err != nil {
			fsError(w, err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", info.ModTime(), f)
		return
	}
	d, err := root.Open(rel)
	if err != nil {
		fsError(w, err)
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		fsError(w, err)
		return
	}
	type entry struct {
		Name       string `json:"name"`
		Size       int64  `json:"size"`
		Type       string `json:"type"`
		ModifiedAt string `json:"modified_at"`
		Mode       string `json:"mode,omitempty"`
	}
	list := struct {
		Path    string  `json:"path"`
		Entries []entry `json:"entries"`
	}{Path: path.Join("/workspace", rel), Entries: []entry{}}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		t := "file"
		if fi.IsDir() {
			t = "directory"
		}
		list.Entries = append(list.Entries, entry{Name: e.Name(), Size: fi.Size(), Type: t,
			ModifiedAt: fi.ModTime().UTC().Format(time.RFC3339), Mode: "0" + strconv.FormatUint(uint64(fi.Mode().Perm()), 8)})
	}
	writeJSON(w, 200, list)
}

// fsError answers a filesystem error as sandboxd does.
func fsError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		apiError(w, 404, "NOT_FOUND", "path does not exist within the sandbox")
	case strings.Contains(err.Error(), "escapes") || errors.Is(err, fs.ErrPermission):
		apiError(w, 403, "PERMISSION_DENIED", "path escapes the sandbox root")
	default:
		apiError(w, 400, "INVALID_ARGUMENT", err.Error())
	}
}
