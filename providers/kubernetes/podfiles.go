package kubernetes

import (
	"bytes"
	"context"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/computemw/kit/computemw"
)

// File operations of the pods/exec path: programs with the path as an
// argument (no shell reads it), relative to the working directory.

const (
	statFormat = "%F|%s|%Y|%n"
	listScript = `if [ ! -d "$1" ]; then [ -e "$1" ] && echo "Not a directory" >&2 || echo "No such file" >&2; exit 1; fi
cd -- "$1" && for f in * .[!.]* ..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; stat -c '` + statFormat + `' -- "$f"; done`
	writeScript  = `mkdir -p -- "$(dirname -- "$1")" && cat > "$1"`
	removeScript = `[ -e "$1" ] || [ -L "$1" ] || { echo "No such file" >&2; exit 1; }; rm -rf -- "$1"`
)

func (s *Sandbox) podOpenFile(ctx context.Context, rel string) (io.ReadCloser, computemw.FileInfo, error) {
	b, err := s.podOutput(ctx, "read "+rel, []string{"cat", "--", rel}, nil, s.p.opts.MaxFileBytes+1)
	if err != nil {
		return nil, computemw.FileInfo{}, err
	}
	return io.NopCloser(bytes.NewReader(b)), computemw.FileInfo{Name: path.Base(rel), Path: rel, Type: "file", Size: int64(len(b))}, nil
}

func (s *Sandbox) podWriteFile(ctx context.Context, rel string, data []byte) error {
	_, err := s.podOutput(ctx, "write "+rel, []string{"sh", "-c", writeScript, "sh", rel}, bytes.NewReader(data), 1<<10)
	return err
}

func (s *Sandbox) podList(ctx context.Context, rel string) ([]computemw.FileInfo, error) {
	out, err := s.podOutput(ctx, "list "+rel, []string{"sh", "-c", listScript, "sh", rel}, nil, 16<<20)
	if err != nil {
		return nil, err
	}
	var fis []computemw.FileInfo
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if fi, ok := parseStat(line); ok {
			if rel != "." {
				fi.Path = rel + "/" + fi.Name
			}
			fis = append(fis, fi)
		}
	}
	return fis, nil
}

func (s *Sandbox) podStat(ctx context.Context, rel string) (computemw.FileInfo, error) {
	out, err := s.podOutput(ctx, "stat "+rel, []string{"stat", "-c", statFormat, "--", rel}, nil, 1<<10)
	if err != nil {
		return computemw.FileInfo{}, err
	}
	fi, ok := parseStat(strings.TrimSpace(string(out)))
	if !ok {
		return fi, computemw.Errorf(computemw.CodeUnavailable, "stat %s: unreadable answer", rel)
	}
	fi.Name, fi.Path = path.Base(rel), rel
	return fi, nil
}

func (s *Sandbox) podMkdir(ctx context.Context, rel string) error {
	_, err := s.podOutput(ctx, "mkdir "+rel, []string{"mkdir", "-p", "--", rel}, nil, 1<<10)
	return err
}

func (s *Sandbox) podRemove(ctx context.Context, rel string) error {
	_, err := s.podOutput(ctx, "remove "+rel, []string{"sh", "-c", removeScript, "sh", rel}, nil, 1<<10)
	return err
}

// parseStat reads one line of statFormat.
func parseStat(line string) (computemw.FileInfo, bool) {
	parts := strings.SplitN(line, "|", 4)
	if len(parts) != 4 {
		return computemw.FileInfo{}, false
	}
	fi := computemw.FileInfo{Name: parts[3], Path: parts[3], Type: "file"}
	switch {
	case parts[0] == "directory":
		fi.Type = "directory"
	case parts[0] == "symbolic link":
		fi.Type = "symlink"
	}
	fi.Size, _ = strconv.ParseInt(parts[1], 10, 64)
	if secs, err := strconv.ParseInt(parts[2], 10, 64); err == nil {
		fi.Modified = time.Unix(secs, 0).UTC()
	}
	return fi, true
}

// podTerminal is a program on a TTY of pods/exec.
type podTerminal struct {
	out    *io.PipeReader
	in     *io.PipeWriter
	sizes  chan remotecommand.TerminalSize
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	err    error
}

func (s *Sandbox) podOpenTerminal(ctx context.Context, argv []string, opts computemw.TerminalOptions, cols, rows uint16) (computemw.Terminal, error) {
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	t := &podTerminal{out: outR, in: inW, sizes: make(chan remotecommand.TerminalSize, 4), cancel: cancel, done: make(chan struct{})}
	t.sizes <- remotecommand.TerminalSize{Width: cols, Height: rows}
	wrapped := s.pe.wrap(argv, "", opts.Env, 24*time.Hour)
	go func() {
		defer close(t.done)
		t.code, t.err = s.pe.stream(tctx, wrapped, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Tty: true, TerminalSizeQueue: t})
		outW.Close()
		inR.Close()
	}()
	return t, nil
}

// Next implements remotecommand.TerminalSizeQueue.
func (t *podTerminal) Next() *remotecommand.TerminalSize {
	select {
	case sz := <-t.sizes:
		return &sz
	case <-t.done:
		return nil
	}
}

func (t *podTerminal) Read(p []byte) (int, error)  { return t.out.Read(p) }
func (t *podTerminal) Write(p []byte) (int, error) { return t.in.Write(p) }

// Resize changes the window size.
func (t *podTerminal) Resize(cols, rows uint16) error {
	select {
	case t.sizes <- remotecommand.TerminalSize{Width: cols, Height: rows}:
		return nil
	case <-t.done:
		return computemw.Errorf(computemw.CodeBadRequest, "the terminal has ended")
	}
}

// Wait waits for the program to exit.
func (t *podTerminal) Wait() (int, error) {
	<-t.done
	if t.err != nil && t.err != context.Canceled {
		return t.code, t.err
	}
	return t.code, nil
}

// Close ends the stream (the pod's timeout bounds the program).
func (t *podTerminal) Close() error {
	t.cancel()
	t.in.Close()
	t.out.Close()
	<-t.done
	return nil
}
