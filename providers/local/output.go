//go:build linux

package local

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// drainGrace bounds how long an execution's output is read after its
// program exited. Its init kills what the program left in its process
// group (and, when no other execution runs, in the whole sandbox) before
// it reports the exit, so the pipes end at once; only a process of another
// session, left while other executions run, can hold them open longer.
const drainGrace = 250 * time.Millisecond

// streams are the standard streams of one execution: pipes whose child
// ends are handed to the sandbox's init.
type streams struct {
	inR, outW, errW *os.File // the child's ends
	inW, outR, errR *os.File // the provider's ends (inW nil without stdin)
}

// newStreams makes the pipes of an execution. The program's standard
// input is r, fed by a goroutine that never holds the execution open: a
// reader that blocks (a WebSocket client that types nothing) cannot keep
// the run alive, and the goroutine ends when r returns or the pipe is
// closed. Without r it is /dev/null. With merge the program's standard
// error is its standard output's pipe: one pipe keeps the order in which
// the two were written.
func newStreams(r io.Reader, merge bool) (*streams, error) {
	st := &streams{}
	var err error
	if r == nil {
		if st.inR, err = openDevNull(); err != nil {
			return nil, fmt.Errorf("local: stdin: %w", err)
		}
	} else if st.inW, st.inR, err = childPipe(true); err != nil {
		return nil, fmt.Errorf("local: stdin pipe: %w", err)
	}
	if st.outR, st.outW, err = childPipe(false); err != nil {
		st.close()
		return nil, fmt.Errorf("local: stdout pipe: %w", err)
	}
	if merge {
		st.errW = st.outW
	} else if st.errR, st.errW, err = childPipe(false); err != nil {
		st.close()
		return nil, fmt.Errorf("local: stderr pipe: %w", err)
	}
	if r != nil {
		w := st.inW
		go func() {
			_, _ = io.Copy(w, r)
			w.Close()
		}()
	}
	return st, nil
}

// child returns the descriptors the program gets as 0, 1 and 2.
func (st *streams) child() []*os.File { return []*os.File{st.inR, st.outW, st.errW} }

// closeChild closes the child's ends once the init holds them.
func (st *streams) closeChild() {
	for _, f := range []*os.File{st.inR, st.outW, st.errW} {
		if f != nil && (f != st.errW || st.errW != st.outW) {
			_ = f.Close()
		}
	}
}

// copyOutput copies the program's output to stdout and stderr until the
// pipes end; the channel is closed when both copies are done.
func (st *streams) copyOutput(stdout, stderr io.Writer) <-chan struct{} {
	done := make(chan struct{})
	var left atomic.Int32
	left.Store(2)
	// The copy that ends last closes done itself: the execution waiting
	// for it wakes without a third goroutine in between.
	finish := func() {
		if left.Add(-1) == 0 {
			close(done)
		}
	}
	go func() { defer finish(); _, _ = io.Copy(stdout, st.outR) }()
	if st.errR == nil { // merged into stdout
		finish()
	} else {
		go func() { defer finish(); _, _ = io.Copy(stderr, st.errR) }()
	}
	return done
}

// drainWithin waits for the copies after the program exited, at most
// grace (drainGrace after an init's execution); then it stops them.
func (st *streams) drainWithin(copied <-chan struct{}, grace time.Duration) {
	select {
	case <-copied: // usually: the pipes ended with the program
		return
	default:
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-copied:
		return
	case <-t.C:
	}
	now := time.Now()
	_ = st.outR.SetReadDeadline(now)
	if st.errR != nil {
		_ = st.errR.SetReadDeadline(now)
	}
	<-copied
}

// close releases every descriptor of the streams.
func (st *streams) close() {
	st.closeChild()
	for _, f := range []*os.File{st.inW, st.outR, st.errR} {
		if f != nil {
			_ = f.Close()
		}
	}
}
