//go:build linux

package initproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The provider and a sandbox's init (internal/sandboxinit) talk over a Unix
// stream socket pair: each message is a 4-byte big-endian length and a JSON
// object, and the descriptors a message carries (an execution's standard
// streams) travel with its first byte as SCM_RIGHTS.

// maxFrame bounds one message: a command line, an environment and a
// program's arguments are each capped well below it (computemw.ValidateEnv,
// computemw.MaxCommandBytes), even after JSON escaping.
const maxFrame = 8 << 20

// maxFDs is the most descriptors one message carries.
const maxFDs = 3

// The operations of Msg.Op.
const (
	// To init.
	OpStart   = "start"   // start Argv (else Shell); FDs are stdin, stdout, stderr (none with TTY)
	OpSignal  = "signal"  // signal execution ID's process group (Signal)
	OpProcs   = "procs"   // list the sandbox's processes
	OpKillPID = "killpid" // signal one process (PID, Signal)
	OpReset   = "reset"   // kill every other process, empty Dirs, remove IPC objects, check the init's own state
	OpKillAll = "killall" // kill every other process (replies once none is left)
	// From init.
	OpReady   = "ready"   // the init serves (ID 0)
	OpStarted = "started" // terminal or background program ID runs as PID
	OpExit    = "exit"    // execution ID ended: Status, CPU, MaxRSS, ViaShell
	OpError   = "error"   // a request failed: Error (ID names it)
	OpReply   = "reply"   // the answer of procs or killpid (ID names it)
)

// Msg is one message between the provider and an init.
type Msg struct {
	Op string `json:"op"`
	// ID names an execution, or the request a reply answers.
	ID uint64 `json:"id,omitempty"`

	Argv []string `json:"argv,omitempty"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	// Shell and ShellEnv are the shell form of the same command (with
	// start), which the init starts instead when it cannot start Argv's
	// program; its exit then says ViaShell.
	Shell    []string `json:"shell,omitempty"`
	ShellEnv []string `json:"shellEnv,omitempty"`
	// TTY: the program runs on a new pseudo-terminal of the sandbox's
	// own devpts, of Cols by Rows, as its controlling terminal and
	// standard streams; the terminal's master comes back with started.
	TTY  bool   `json:"tty,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	// Background: the program runs detached, its streams /dev/null, and
	// it (with its descendants) survives the end of other executions.
	Background bool `json:"background,omitempty"`

	// Dirs (with reset) are the directories a reset empties.
	Dirs []string `json:"dirs,omitempty"`

	Signal int `json:"signal,omitempty"`
	PID    int `json:"pid,omitempty"`

	// Status is the raw wait status; CPU the user+system time in
	// nanoseconds; MaxRSS the largest resident set in bytes.
	Status int   `json:"status,omitempty"`
	CPU    int64 `json:"cpu,omitempty"`
	MaxRSS int64 `json:"maxrss,omitempty"`

	Error string `json:"error,omitempty"`
	// NotFound: the program to start does not exist (exit status 127).
	NotFound bool `json:"notFound,omitempty"`
	// ViaShell (with exit): the execution ran in its shell form.
	ViaShell bool   `json:"viaShell,omitempty"`
	Procs    []Proc `json:"procs,omitempty"`
}

// Proc describes one process of a sandbox, as its init sees it.
type Proc struct {
	PID        int    `json:"pid"`
	PPID       int    `json:"ppid"`
	Command    string `json:"command"`
	Background bool   `json:"background"`
	State      string `json:"state"`
}

// Conn is one end of the socket pair. Sends are serialised; one
// goroutine receives.
type Conn struct {
	c  *net.UnixConn
	mu sync.Mutex
}

// NewConn wraps a connected Unix stream socket descriptor. The
// descriptor is owned by the result afterwards.
func NewConn(f *os.File) (*Conn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("init socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("init socket is not a Unix socket")
	}
	return &Conn{c: uc}, nil
}

// SocketPair returns both ends of a new Unix stream socket pair,
// close-on-exec.
func SocketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "init"), os.NewFile(uintptr(fds[1]), "init"), nil
}

// Send writes one message with its descriptors (which stay the caller's
// to close).
func (ic *Conn) Send(m *Msg, files ...*os.File) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(body) > maxFrame {
		return fmt.Errorf("message of %d bytes is too large", len(body))
	}
	frame := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	copy(frame[4:], body)
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	n, _, err := ic.c.WriteMsgUnix(frame, oob, nil)
	if err != nil {
		return err
	}
	if n < len(frame) {
		_, err = ic.c.Write(frame[n:])
	}
	return err
}

// Recv reads one message and the descriptors that came with it. Only one
// goroutine may call it.
func (ic *Conn) Recv() (*Msg, []*os.File, error) {
	var hdr [4]byte
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	var files []*os.File
	got := 0
	for got < len(hdr) {
		n, oobn, _, _, err := ic.c.ReadMsgUnix(hdr[got:], oob)
		if oobn > 0 {
			fs, perr := parseRights(oob[:oobn])
			files = append(files, fs...)
			if perr != nil {
				CloseFiles(files)
				return nil, nil, perr
			}
		}
		if err != nil {
			CloseFiles(files)
			return nil, nil, err
		}
		if n == 0 {
			CloseFiles(files)
			return nil, nil, io.EOF
		}
		got += n
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > maxFrame {
		CloseFiles(files)
		return nil, nil, fmt.Errorf("init message of %d bytes is too large", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(ic.c, body); err != nil {
		CloseFiles(files)
		return nil, nil, err
	}
	m := new(Msg)
	if err := json.Unmarshal(body, m); err != nil {
		CloseFiles(files)
		return nil, nil, fmt.Errorf("init message: %w", err)
	}
	return m, files, nil
}

// Close closes the connection.
func (ic *Conn) Close() error { return ic.c.Close() }

// parseRights turns SCM_RIGHTS control messages into files, close-on-exec.
func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return files, nil
}

// CloseFiles closes the descriptors that came with a message.
func CloseFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}
