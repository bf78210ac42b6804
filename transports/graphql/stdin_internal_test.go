package graphql

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// codeOf is the kit code of err, or "".
func codeOf(err error) computemw.Code {
	if err == nil {
		return ""
	}
	return computemw.AsError(err).Code
}

// TestOpenInputsBounds checks the bounds of open inputs: executions with
// open input per caller, bytes waiting for a program that does not read
// (a pipe nobody reads), a piece larger than the bound, input after its
// end, and input of an execution that has ended.
func TestOpenInputsBounds(t *testing.T) {
	o := newOpenInputs(1, 64)
	a, err := o.open("p:alice", computemw.OpExecute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.open("p:alice", computemw.OpExecute); codeOf(err) != computemw.CodeRateLimited {
		t.Errorf("second open input of one caller: %v, want RATE_LIMITED", err)
	}
	b, err := o.open("p:bob", computemw.OpExec)
	if err != nil {
		t.Fatalf("another caller's open input: %v", err)
	}
	if a.id == b.id || len(a.id) != 32 || o.get(a.id) != a || o.get("nope") != nil {
		t.Fatalf("ids %q %q", a.id, b.id)
	}

	if err := a.push(strings.Repeat("x", 65)); codeOf(err) != computemw.CodePayloadTooLarge {
		t.Errorf("65 bytes at a bound of 64: %v, want PAYLOAD_TOO_LARGE", err)
	}
	if err := a.push(strings.Repeat("x", 40)); err != nil {
		t.Fatalf("40 bytes: %v", err)
	}
	// Nobody reads the pipe: the 40 bytes still wait.
	if err := a.push(strings.Repeat("y", 40)); codeOf(err) != computemw.CodeBadRequest {
		t.Errorf("80 bytes waiting at a bound of 64: %v, want BAD_REQUEST", err)
	}
	got := make([]byte, 40)
	if _, err := io.ReadFull(a.r, got); err != nil || string(got) != strings.Repeat("x", 40) {
		t.Fatalf("the program read %q, %v", got, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.push(strings.Repeat("y", 40)) != nil { // once the writer has counted what was taken
		if time.Now().After(deadline) {
			t.Fatal("input still refused after the program took what waited")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.end(); err != nil {
		t.Fatalf("end: %v", err)
	}
	if err := a.push("z"); codeOf(err) != computemw.CodeBadRequest {
		t.Errorf("input after its end: %v, want BAD_REQUEST", err)
	}
	if err := a.end(); codeOf(err) != computemw.CodeBadRequest {
		t.Errorf("second end: %v, want BAD_REQUEST", err)
	}
	rest, err := io.ReadAll(a.r)
	if err != nil || string(rest) != strings.Repeat("y", 40) {
		t.Errorf("the program read %q, %v; want the rest, then the end", rest, err)
	}

	o.close(a)
	if err := a.push("z"); codeOf(err) != computemw.CodeNotFound {
		t.Errorf("input of an ended execution: %v, want NOT_FOUND", err)
	}
	if o.get(a.id) != nil {
		t.Error("an ended execution is still listed")
	}
	if c, err := o.open("p:alice", computemw.OpExecute); err != nil {
		t.Errorf("open input after the caller's first ended: %v", err)
	} else {
		o.close(c)
	}
	o.close(b)
	if len(o.byID) != 0 || len(o.byOwner) != 0 {
		t.Errorf("left: %v %v", o.byID, o.byOwner)
	}
}
