package modalfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// fsToolsPath is the in-sandbox tool the SDK's filesystem runs.
const fsToolsPath = "/__modal/.bin/modal-sandbox-fs-tools"

// fsCommand is the tool's JSON argument: exactly one operation.
type fsCommand struct {
	ReadFile      *fsPath  `json:"ReadFile"`
	WriteFile     *fsPath  `json:"WriteFile"`
	ListFiles     *fsPath  `json:"ListFiles"`
	Stat          *fsPath  `json:"Stat"`
	MakeDirectory *fsMkdir `json:"MakeDirectory"`
	Remove        *fsRm    `json:"Remove"`
}

type fsPath struct {
	Path string `json:"path"`
}

type fsMkdir struct {
	Path    string `json:"path"`
	Parents *bool  `json:"parents"`
}

type fsRm struct {
	Path      string `json:"path"`
	Recursive *bool  `json:"recursive"`
}

// fsFileInfo is the tool's description of a file.
type fsFileInfo struct {
	Name          string  `json:"name"`
	Path          string  `json:"path"`
	Type          string  `json:"type"`
	Size          int64   `json:"size"`
	Mode          uint32  `json:"mode"`
	Permissions   string  `json:"permissions"`
	Owner         string  `json:"owner"`
	Group         string  `json:"group"`
	ModifiedTime  float64 `json:"modified_time"`
	SymlinkTarget *string `json:"symlink_target"`
}

// fsTool interprets one run of the tool; stdin (the content of a
// WriteFile) is buffered until its end.
type fsTool struct {
	s   *Server
	sb  *sandbox
	e   *execution
	cmd fsCommand
	in  bytes.Buffer
}

func (t *fsTool) parse(arg string) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(arg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t.cmd); err != nil {
		t.s.t.Errorf("modalfake: %s %s: %v", fsToolsPath, arg, err)
		t.fail("InvalidArgument", "bad command")
		return err
	}
	n := 0
	for _, set := range []bool{t.cmd.ReadFile != nil, t.cmd.WriteFile != nil, t.cmd.ListFiles != nil, t.cmd.Stat != nil, t.cmd.MakeDirectory != nil, t.cmd.Remove != nil} {
		if set {
			n++
		}
	}
	if n != 1 || (t.cmd.MakeDirectory != nil && t.cmd.MakeDirectory.Parents == nil) || (t.cmd.Remove != nil && t.cmd.Remove.Recursive == nil) {
		t.s.t.Errorf("modalfake: %s %s: want exactly one operation with all its fields", fsToolsPath, arg)
		t.fail("InvalidArgument", "bad command")
		return errors.New("bad command")
	}
	return nil
}

func (t *fsTool) needsStdin() bool { return t.cmd.WriteFile != nil }

func (t *fsTool) Write(p []byte) (int, error) {
	if t.in.Len()+len(p) > maxOutput {
		return 0, errors.New("file too large for the fake")
	}
	return t.in.Write(p)
}

func (t *fsTool) Close() error {
	t.run()
	return nil
}

// finish ends the run with an exit code.
func (t *fsTool) finish(code int32) {
	t.e.code = code
	t.e.stdout.close()
	t.e.stderr.close()
	close(t.e.done)
}

// fail ends the run with the tool's JSON error on stderr.
func (t *fsTool) fail(kind, msg string) {
	b, _ := json.Marshal(map[string]string{"error_kind": kind, "message": msg, "detail": ""})
	t.e.stderr.Write(b)
	t.finish(1)
}

func (t *fsTool) failErr(err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.fail("NotFound", "No such file or directory")
	case errors.Is(err, syscall.EISDIR):
		t.fail("IsDirectory", "Is a directory")
	case errors.Is(err, syscall.ENOTDIR):
		t.fail("NotDirectory", "Not a directory")
	case errors.Is(err, syscall.ENOTEMPTY):
		t.fail("DirectoryNotEmpty", "Directory not empty")
	case errors.Is(err, fs.ErrExist):
		t.fail("AlreadyExists", "File exists")
	case errors.Is(err, fs.ErrPermission):
		t.fail("PermissionDenied", "Permission denied")
	default:
		t.fail("Other", err.Error())
	}
}

func (t *fsTool) host(p string) (string, bool) {
	h, ok := t.sb.hostPath(p)
	if !ok {
		t.fail("NotFound", "No such file or directory (outside the fake's working directory)")
	}
	return h, ok
}

func (t *fsTool) run() {
	c := t.cmd
	switch {
	case c.ReadFile != nil:
		h, ok := t.host(c.ReadFile.Path)
		if !ok {
			return
		}
		data, err := os.ReadFile(h)
		if err != nil {
			t.failErr(err)
			return
		}
		t.e.stdout.Write(data)
	case c.WriteFile != nil:
		h, ok := t.host(c.WriteFile.Path)
		if !ok {
			return
		}
		if err := os.MkdirAll(filepath.Dir(h), 0o755); err != nil {
			t.failErr(err)
			return
		}
		if err := os.WriteFile(h, t.in.Bytes(), 0o644); err != nil {
			t.failErr(err)
			return
		}
	case c.Stat != nil:
		h, ok := t.host(c.Stat.Path)
		if !ok {
			return
		}
		fi, err := os.Lstat(h)
		if err != nil {
			t.failErr(err)
			return
		}
		b, _ := json.Marshal(t.info(h, fi))
		t.e.stdout.Write(b)
	case c.ListFiles != nil:
		h, ok := t.host(c.ListFiles.Path)
		if !ok {
			return
		}
		entries, err := os.ReadDir(h)
		if err != nil {
			t.failErr(err)
			return
		}
		list := []fsFileInfo{}
		for _, de := range entries {
			fi, err := de.Info()
			if err != nil {
				continue
			}
			list = append(list, t.info(filepath.Join(h, de.Name()), fi))
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		b, _ := json.Marshal(list)
		t.e.stdout.Write(b)
	case c.MakeDirectory != nil:
		h, ok := t.host(c.MakeDirectory.Path)
		if !ok {
			return
		}
		var err error
		if *c.MakeDirectory.Parents {
			err = os.MkdirAll(h, 0o755)
		} else {
			err = os.Mkdir(h, 0o755)
		}
		if err != nil {
			t.failErr(err)
			return
		}
	case c.Remove != nil:
		h, ok := t.host(c.Remove.Path)
		if !ok {
			return
		}
		if _, err := os.Lstat(h); err != nil {
			t.failErr(err)
			return
		}
		var err error
		if *c.Remove.Recursive {
			err = os.RemoveAll(h)
		} else {
			err = os.Remove(h)
		}
		if err != nil {
			t.failErr(err)
			return
		}
	}
	t.finish(0)
}

func (t *fsTool) info(h string, fi os.FileInfo) fsFileInfo {
	typ := "file"
	var target *string
	switch {
	case fi.IsDir():
		typ = "directory"
	case fi.Mode()&os.ModeSymlink != 0:
		typ = "symlink"
		if l, err := os.Readlink(h); err == nil {
			target = &l
		}
	}
	mt := fi.ModTime()
	return fsFileInfo{
		Name: fi.Name(), Path: t.sb.sandboxPath(h), Type: typ, Size: fi.Size(),
		Mode: uint32(fi.Mode().Perm()), Permissions: fi.Mode().Perm().String(), Owner: "root", Group: "root",
		ModifiedTime: float64(mt.UnixNano()) / 1e9, SymlinkTarget: target,
	}
}
