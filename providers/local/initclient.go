//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/computemw/kit/providers/local/internal/initproto"
)

// initMsg is a message of the init's protocol (internal/initproto), as
// the provider's side builds its requests.
type initMsg = initproto.Msg

// The requests the provider's side names beside start and signal.
const (
	opProcs   = initproto.OpProcs
	opKillPID = initproto.OpKillPID
)

// initReply is a message from the init, with the descriptors that came
// with it (a terminal's master), which its receiver owns.
type initReply struct {
	*initproto.Msg
	files []*os.File
}

// closeFiles closes the descriptors of a reply.
func closeFiles(files []*os.File) { initproto.CloseFiles(files) }

// initProc is a sandbox's init as the provider sees it: the process that
// holds the sandbox's namespaces (bwrap's, or the init itself without
// namespaces), and the socket to the init inside them.
type initProc struct {
	cmd  *exec.Cmd
	conn *initproto.Conn
	pid  int // the init's host PID

	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]chan *initReply

	// dead is closed once the init or its socket is gone; err says why.
	dead chan struct{}
	err  error
	// exited is closed once cmd has been waited for.
	exited chan struct{}
}

// errInitGone: the sandbox's init exited; nothing can run in it anymore.
var errInitGone = errors.New("the sandbox's init is gone")

// serve reads the init's messages until its socket closes, and waits for
// its process.
func (ip *initProc) serve() {
	go func() {
		_ = ip.cmd.Wait()
		close(ip.exited)
	}()
	for {
		m, files, err := ip.conn.Recv()
		if err != nil {
			ip.mu.Lock()
			ip.err = fmt.Errorf("%w: %v", errInitGone, err)
			ip.mu.Unlock()
			close(ip.dead)
			return
		}
		ip.mu.Lock()
		ch := ip.waiting[m.ID]
		ip.mu.Unlock()
		delivered := false
		if ch != nil {
			select {
			case ch <- &initReply{Msg: m, files: files}:
				delivered = true
			default: // a waiter that left: nothing to deliver to
			}
		}
		if !delivered {
			closeFiles(files)
		}
	}
}

// request registers a new request ID whose messages reach the returned
// channel, which holds the messages a request gets (at most two: a
// terminal's started, then its exit; a background program gets only
// started, an execution only its exit).
func (ip *initProc) request() (uint64, chan *initReply) {
	ch := make(chan *initReply, 2)
	ip.mu.Lock()
	ip.nextID++
	id := ip.nextID
	ip.waiting[id] = ch
	ip.mu.Unlock()
	return id, ch
}

// done forgets a request.
func (ip *initProc) done(id uint64) {
	ip.mu.Lock()
	delete(ip.waiting, id)
	ip.mu.Unlock()
}

// gone returns why the init is gone.
func (ip *initProc) gone() error {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.err == nil {
		return errInitGone
	}
	return ip.err
}

// call sends a request and waits for its one answer.
func (ip *initProc) call(ctx context.Context, m *initMsg) (*initReply, error) {
	id, ch := ip.request()
	defer ip.done(id)
	m.ID = id
	if err := ip.conn.Send(m); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	select {
	case r := <-ch:
		if r.Op == initproto.OpError {
			return nil, errors.New(r.Error)
		}
		return r, nil
	case <-ip.dead:
		return nil, ip.gone()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startProc starts a program through the init. It returns the request ID,
// the channel on which its exit arrives, and the started message (whose
// files the caller owns); the caller calls done(id) once it has the exit
// (or gives up).
func (ip *initProc) startProc(ctx context.Context, m *initMsg, files ...*os.File) (uint64, <-chan *initReply, *initReply, error) {
	id, ch := ip.request()
	m.Op, m.ID = initproto.OpStart, id
	if err := ip.conn.Send(m, files...); err != nil {
		ip.done(id)
		return 0, nil, nil, fmt.Errorf("local: %w", err)
	}
	select {
	case r := <-ch:
		if r.Op == initproto.OpError {
			ip.done(id)
			closeFiles(r.files)
			return 0, nil, nil, &startError{notFound: r.NotFound, msg: r.Error}
		}
		if r.Op != initproto.OpStarted {
			// The init reports a start before its exit; a message
			// out of order is a broken init, never an exit status.
			ip.done(id)
			closeFiles(r.files)
			return 0, nil, nil, fmt.Errorf("local: the sandbox's init answered %q to a start", r.Op)
		}
		return id, ch, r, nil
	case <-ip.dead:
		ip.done(id)
		return 0, nil, nil, ip.gone()
	case <-ctx.Done():
		// The start may still happen: kill it once its PID is known.
		go func() {
			select {
			case r := <-ch:
				closeFiles(r.files)
				if r.Op == initproto.OpStarted {
					ip.signal(id, 9)
				}
			case <-ip.dead:
			}
			ip.done(id)
		}()
		return 0, nil, nil, ctx.Err()
	}
}

// launch sends the start of an execution whose only answer is its exit,
// or an error should the start fail (neither a terminal nor a background
// program, which startProc starts). It returns the request ID and the
// channel the answer arrives on; the caller calls done(id) once it has
// it (or gives up). The descriptors travel with the message: the caller
// may close its own as soon as launch returns.
func (ip *initProc) launch(m *initMsg, files ...*os.File) (uint64, <-chan *initReply, error) {
	id, ch := ip.request()
	m.Op, m.ID = initproto.OpStart, id
	if err := ip.conn.Send(m, files...); err != nil {
		ip.done(id)
		return 0, nil, fmt.Errorf("local: %w", err)
	}
	return id, ch, nil
}

// await waits for the answer to a launch: the exit message, or a
// *startError. When ctx ends first, the execution's process group is
// killed and its answer still awaited (stopped), for at most stopWait: an
// init that has not even started the program by then (stuck in a fork)
// does not hold the caller past its time limit. lost: the init is gone.
func (ip *initProc) await(ctx context.Context, id uint64, ch <-chan *initReply) (exit *initReply, stopped, lost bool, err error) {
	answer := func(r *initReply) (*initReply, error) {
		closeFiles(r.files)
		switch r.Op {
		case initproto.OpExit:
			return r, nil
		case initproto.OpError:
			return nil, &startError{notFound: r.NotFound, msg: r.Error}
		}
		return nil, fmt.Errorf("local: the sandbox's init answered %q to a start", r.Op)
	}
	select {
	case r := <-ch:
		exit, err = answer(r)
		return exit, false, false, err
	case <-ip.dead:
		return nil, false, true, nil
	case <-ctx.Done():
	}
	ip.signal(id, int(syscall.SIGKILL))
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case r := <-ch:
		exit, err = answer(r)
		return exit, true, false, err
	case <-ip.dead:
		return nil, true, true, nil
	case <-t.C:
		// The kill is queued behind the start: the program, if it ever
		// starts, is killed then; its answer finds no one waiting.
		return nil, true, false, nil
	}
}

// stopWait bounds how long an execution that was stopped waits for its
// exit after the kill.
const stopWait = 5 * time.Second

// signal signals an execution's process group.
func (ip *initProc) signal(id uint64, sig int) {
	_ = ip.conn.Send(&initMsg{Op: initproto.OpSignal, ID: id, Signal: sig})
}

// kill ends the init and with it every process of the sandbox.
func (ip *initProc) kill() {
	killTree(ip.cmd)
	_ = ip.conn.Close()
}

// startError: the init could not start a program.
type startError struct {
	notFound bool
	msg      string
}

func (e *startError) Error() string { return e.msg }
