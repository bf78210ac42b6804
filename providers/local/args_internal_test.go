//go:build linux

package local

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// The one writer of bwrap's argument list refuses an argument with a NUL,
// whatever its caller checked: "x\x00--share-net" would otherwise be read
// as the value "x" and the option --share-net.
func TestArgsFileRefusesNUL(t *testing.T) {
	for _, args := range [][]string{
		{"--setenv", "A", "x\x00--share-net"},
		{"--chdir", "/workspace\x00", "--bind", "/", "/"},
		{"\x00"},
	} {
		if f, err := argsFile(args); err == nil {
			f.Close()
			t.Errorf("argsFile(%q) accepted a NUL", args)
		}
	}
}

// The list reads back as bwrap reads it, and writing it never waits for a
// reader, however long it is (a pipe blocks past 64 KiB).
func TestArgsFileHoldsAnyLength(t *testing.T) {
	long := strings.Repeat("v", 1<<20)
	f, err := argsFile([]string{"--setenv", "BIG", long, "--unshare-net"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("--setenv\x00BIG\x00" + long + "\x00--unshare-net\x00")
	if !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes, want %d", len(got), len(want))
	}
	// Sealed: nobody holding the descriptor can change it.
	if _, err := f.WriteAt([]byte("--share-net"), 0); err == nil {
		t.Error("the sealed argument file accepted a write")
	}
}
