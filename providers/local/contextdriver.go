//go:build linux

package local

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
	"golang.org/x/sys/unix"
)

// The drivers are the small programs a code context runs in its sandbox
// (drivers/*): each keeps an interpreter's state and speaks the same
// protocol, one JSON object per line on a socket that is its standard
// input (drivers/python.py describes it).
var (
	//go:embed drivers/python.py
	pythonDriver string
	//go:embed drivers/node.js
	nodeDriver string
)

// driverArgv is the command line of the driver of rt's language (marker
// is its first argument), or false when the language has none.
func driverArgv(rt *Runtime, marker string) ([]string, bool) {
	switch rt.Name {
	case "python":
		return []string{rt.Command[0], "-u", "-c", pythonDriver, marker}, true
	case "node":
		return []string{rt.Command[0], "-e", nodeDriver, marker}, true
	}
	return nil, false
}

// The bounds of a driver's answers.
const (
	// maxFrameBytes bounds one answer (a rich result); a larger one is
	// dropped and the execution marked truncated.
	maxFrameBytes = 16 << 20
	// maxResultBytes bounds an execution's rich results together.
	maxResultBytes = 32 << 20
	// interruptGrace is how long an execution stopped by its time limit
	// (or a caller that left) has to stop after SIGINT before its
	// interpreter is killed.
	interruptGrace = 3 * time.Second
	// markerWait bounds the wait for the output an execution printed
	// once the driver says it is done (it is already in the pipes).
	markerWait = 5 * time.Second
)

// frame is one answer of a driver.
type frame struct {
	Type      string            `json:"type"`
	Data      map[string]string `json:"data,omitempty"`
	Main      bool              `json:"main,omitempty"`
	Name      string            `json:"name,omitempty"`
	Value     string            `json:"value,omitempty"`
	Traceback string            `json:"traceback,omitempty"`
	size      int
	dropped   bool
}

// driver is one running driver process: the interpreter of a code
// context, started by the sandbox's init as a program that lives until
// the context ends.
type driver struct {
	s      *sandbox
	ip     *initProc
	id     uint64
	marker []byte
	ctl    *os.File
	outR   *os.File
	errR   *os.File
	frames chan frame
	// synced receives a value each time a stream passes the marker.
	synced chan struct{}
	// dead is closed once the driver has exited; closed once the
	// provider's ends of its streams are.
	dead   chan struct{}
	closed chan struct{}
	// pumps are the goroutines reading the driver; done when all end.
	pumps sync.WaitGroup

	mu      sync.Mutex
	stdout  io.Writer // the running execution's, or nil between executions
	stderr  io.Writer
	running bool
	once    sync.Once
}

// startDriver starts a driver for argv in the sandbox and waits until it
// is ready.
func (s *sandbox) startDriver(ctx context.Context, argv []string, marker string, env []string, cwd string) (*driver, error) {
	if err := checkArgv(argv); err != nil {
		return nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	ctl, child := os.NewFile(uintptr(pair[0]), "ctl"), os.NewFile(uintptr(pair[1]), "ctl-child")
	defer child.Close()
	outR, outW, err := childPipe(false)
	if err != nil {
		ctl.Close()
		return nil, err
	}
	defer outW.Close()
	errR, errW, err := childPipe(false)
	if err != nil {
		ctl.Close()
		outR.Close()
		return nil, err
	}
	defer errW.Close()
	closeAll := func() { ctl.Close(); outR.Close(); errR.Close() }

	ip, err := s.enter(ctx)
	if err != nil {
		closeAll()
		return nil, err
	}
	id, exited, err := ip.launch(&initMsg{Argv: argv, Env: env, Dir: cwd}, child, outW, errW)
	if err != nil {
		s.leave()
		closeAll()
		return nil, err
	}
	d := &driver{s: s, ip: ip, id: id, marker: []byte(marker), ctl: ctl, outR: outR, errR: errR,
		frames: make(chan frame), synced: make(chan struct{}, 8), dead: make(chan struct{}), closed: make(chan struct{})}
	stderr := textstream.NewCapped(64 << 10)
	d.stderr = stderr // what the driver says before it is ready
	d.pumps.Add(3)
	go d.pump(outR, true)
	go d.pump(errR, false)
	go d.readFrames()
	go func() {
		defer s.leave()
		defer ip.done(id)
		select {
		case r := <-exited:
			closeFiles(r.files)
		case <-ip.dead:
		}
		close(d.dead)
		// A process the code left in another session may hold the
		// pipes: they end with the driver all the same.
		d.closeFiles()
	}()

	select {
	case f, ok := <-d.frames:
		if ok && f.Type == "ready" {
			d.mu.Lock()
			d.stderr = nil
			d.mu.Unlock()
			return d, nil
		}
		d.kill()
		msg, _ := stderr.Result()
		return nil, &computemw.Error{Code: computemw.CodeExecution, Message: "the context's interpreter did not start", Details: msg}
	case <-ctx.Done():
		d.kill()
		return nil, fmt.Errorf("local: starting a context: %w", ctx.Err())
	}
}

// closeFiles closes the provider's ends of the driver's streams.
func (d *driver) closeFiles() {
	d.once.Do(func() {
		close(d.closed)
		d.ctl.Close()
		d.outR.Close()
		d.errR.Close()
	})
}

// kill ends the driver and what it started, and waits for its readers.
func (d *driver) kill() {
	d.ip.signal(d.id, int(syscall.SIGKILL))
	select {
	case <-d.dead:
	case <-time.After(stopWait):
		// The kill is queued behind a start the init has not done: the
		// readers end with the streams.
	}
	d.closeFiles()
	d.pumps.Wait()
}

// interrupt sends SIGINT to the driver's process group while it runs an
// execution.
func (d *driver) interrupt() {
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if running {
		d.ip.signal(d.id, int(syscall.SIGINT))
	}
}

// pump copies one of the driver's output streams to the running
// execution's writer, and reports each marker on synced.
func (d *driver) pump(r io.Reader, stdout bool) {
	defer d.pumps.Done()
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.Index(pending, d.marker)
				if i < 0 {
					break
				}
				d.write(stdout, pending[:i])
				pending = pending[i+len(d.marker):]
				select {
				case d.synced <- struct{}{}:
				default:
				}
			}
			keep := markerPrefix(pending, d.marker)
			d.write(stdout, pending[:len(pending)-keep])
			pending = append([]byte(nil), pending[len(pending)-keep:]...)
		}
		if err != nil {
			d.write(stdout, pending)
			return
		}
	}
}

// markerPrefix is the length of the longest end of b that begins marker.
func markerPrefix(b, marker []byte) int {
	for k := min(len(b), len(marker)-1); k > 0; k-- {
		if bytes.HasPrefix(marker, b[len(b)-k:]) {
			return k
		}
	}
	return 0
}

// write passes output to the running execution; between executions
// (what a background thread prints) it is dropped.
func (d *driver) write(stdout bool, p []byte) {
	if len(p) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.stderr
	if stdout {
		w = d.stdout
	}
	if w != nil {
		_, _ = w.Write(p)
	}
}

// readFrames decodes the driver's answers until its socket ends.
func (d *driver) readFrames() {
	defer d.pumps.Done()
	defer close(d.frames)
	br := bufio.NewReaderSize(d.ctl, 64<<10)
	for {
		line, dropped, err := readLine(br, maxFrameBytes)
		if err != nil {
			return
		}
		var f frame
		if dropped {
			f.dropped = true
		} else if json.Unmarshal(line, &f) != nil {
			continue
		}
		f.size = len(line)
		select {
		case d.frames <- f:
		case <-d.dead:
			return
		case <-d.closed:
			return
		}
	}
}

// readLine reads one line of at most max bytes; a longer one is read to
// its end and dropped.
func readLine(br *bufio.Reader, max int) (line []byte, dropped bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !dropped {
			if len(line)+len(chunk) > max {
				dropped, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case err == nil:
			return line, dropped, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		}
		return nil, false, err
	}
}

// errDriverGone: the context's interpreter exited (the code ended it,
// or a limit did).
var errDriverGone = errors.New("the context's interpreter exited")

// run sends code to the driver and collects its answers until it is
// done, its time limit passes (the execution is interrupted; should it
// not stop, stopped is true and the driver killed), or ctx ends.
func (d *driver) run(ctx context.Context, code string, timeout time.Duration, stdout, stderr io.Writer) (res *computemw.ContextResult, stopped bool, err error) {
	res = &computemw.ContextResult{}
	d.mu.Lock()
	d.stdout, d.stderr, d.running = stdout, stderr, true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.stdout, d.stderr, d.running = nil, nil, false
		d.mu.Unlock()
	}()
	for len(d.synced) > 0 {
		<-d.synced
	}
	req, _ := json.Marshal(map[string]string{"code": code})
	if _, err := d.ctl.Write(append(req, '\n')); err != nil {
		return res, false, fmt.Errorf("local: context: %w", errDriverGone)
	}
	limit := time.NewTimer(timeout)
	defer limit.Stop()
	var grace <-chan time.Time
	var why error
	done := ctx.Done()
	total := 0
	for {
		select {
		case f, ok := <-d.frames:
			if !ok {
				if why != nil {
					return res, true, why
				}
				return res, true, fmt.Errorf("local: context: %w", errDriverGone)
			}
			switch f.Type {
			case "display":
				total += f.size
				if total > maxResultBytes {
					res.Truncated = true
					continue
				}
				res.Results = append(res.Results, computemw.DisplayData{Data: f.Data, IsMain: f.Main})
			case "error":
				res.Error = &computemw.ExecutionError{Name: f.Name, Value: f.Value, Traceback: f.Traceback}
			case "done":
				d.awaitMarkers()
				if why != nil {
					return res, false, why
				}
				return res, false, nil
			default:
				if f.dropped {
					res.Truncated = true
				}
			}
		case <-limit.C:
			why = &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution exceeded its time limit of %s", timeout)}
			d.ip.signal(d.id, int(syscall.SIGINT))
			grace = time.After(interruptGrace)
		case <-done:
			done = nil
			why = fmt.Errorf("local: execution stopped: %w", context.Cause(ctx))
			d.ip.signal(d.id, int(syscall.SIGINT))
			grace = time.After(interruptGrace)
		case <-grace:
			// The code does not stop on SIGINT (it catches it, or is
			// stuck in a system call): the interpreter goes.
			d.kill()
			return res, true, why
		}
	}
}

// awaitMarkers waits until both streams have passed the marker the
// driver wrote before it said done: then all the execution printed has
// been passed on.
func (d *driver) awaitMarkers() {
	t := time.NewTimer(markerWait)
	defer t.Stop()
	for range 2 {
		select {
		case <-d.synced:
		case <-d.dead:
			return
		case <-t.C:
			return
		}
	}
}
