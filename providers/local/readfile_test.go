//go:build linux

package local_test

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// allocated returns the bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Protection: ReadFile's cap (Config.MaxReadBytes, default 8 MiB), checked
// on the open file before a byte is read: a 64 MiB sparse file costs the
// server nothing.
func TestReadFileOverCapRefusedBeforeReading(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	run(t, sb, "truncate -s 64M sparse && truncate -s 8M at-cap", computemw.ExecOptions{})
	var err error
	n := allocated(func() { _, err = sb.ReadFile(t.Context(), "sparse") })
	wantCode(t, err, computemw.CodePayloadTooLarge)
	if n > 1<<20 {
		t.Errorf("refusing a 64 MiB file allocated %d bytes", n)
	}
	if b, err := sb.ReadFile(t.Context(), "at-cap"); err != nil || len(b) != 8<<20 {
		t.Errorf("a file at the cap: %d bytes, %v", len(b), err)
	}
}

// fileOpener is the streaming read of a sandbox file.
type fileOpener interface {
	OpenFile(ctx context.Context, path string) (io.ReadCloser, computemw.FileInfo, error)
}

// OpenFile streams a file of any size in constant memory, for regular
// files inside the workspace only.
func TestOpenFileStreams(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	fo, ok := sb.(fileOpener)
	if !ok {
		t.Fatalf("%T has no OpenFile method", sb)
	}
	run(t, sb, "truncate -s 64M sparse && mkdir dir && mkfifo fifo && ln -s /etc/passwd leak && ln -s sparse alias", computemw.ExecOptions{})
	var copied int64
	n := allocated(func() {
		r, fi, err := fo.OpenFile(t.Context(), "/workspace/sparse")
		if err != nil {
			t.Fatalf("OpenFile: %v", err)
		}
		defer r.Close()
		if fi.Size != 64<<20 || fi.Type != "file" || fi.Path != "/workspace/sparse" {
			t.Errorf("FileInfo %+v", fi)
		}
		if copied, err = io.Copy(io.Discard, r); err != nil {
			t.Errorf("read: %v", err)
		}
	})
	if copied != 64<<20 {
		t.Errorf("streamed %d bytes, want %d", copied, 64<<20)
	}
	if n > 1<<20 {
		t.Errorf("streaming 64 MiB allocated %d bytes", n)
	}
	for _, path := range []string{"dir", "fifo", "leak", "../etc/passwd", "missing"} {
		r, _, err := fo.OpenFile(t.Context(), path)
		if err == nil {
			r.Close()
			t.Errorf("OpenFile(%q) succeeded", path)
			continue
		}
		if c := computemw.AsError(err).Code; c != computemw.CodeBadRequest && c != computemw.CodeNotFound {
			t.Errorf("OpenFile(%q): %v", path, err)
		}
	}
	// An in-workspace symlink is followed, as ReadFile does.
	r, fi, err := fo.OpenFile(t.Context(), "alias")
	if err != nil || fi.Size != 64<<20 {
		t.Errorf("OpenFile(alias): %+v %v", fi, err)
	} else {
		r.Close()
	}
	// A reader left open does not hold the sandbox: Destroy closes it.
	r, _, err = fo.OpenFile(t.Context(), "sparse")
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatalf("Destroy with an open reader: %v", err)
	}
	if _, err := r.Read(make([]byte, 16)); err == nil {
		t.Error("the reader still reads after Destroy")
	}
	r.Close()
}
