package k8sfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/coder/websocket"
	"github.com/creack/pty"
)

// The pods/exec channels of the v5.channel.k8s.io WebSocket protocol: the
// first byte of every binary message names its stream.
const (
	chStdin  = 0
	chStdout = 1
	chStderr = 2
	chError  = 3
	chResize = 4
	chClose  = 255 // v5: [255, stream] closes that stream (stdin's end)
)

// serveExec is the API server's pods/exec for the plane's sandboxes (a
// pod is the sandbox of its name): GET
// /api/v1/namespaces/{ns}/pods/{pod}/exec?command=...&stdin&stdout&stderr&tty
// upgraded to WebSocket with the v5.channel.k8s.io subprotocol. The
// program runs in the sandbox's root with its environment; its exit status
// comes last on the error channel as a metav1.Status.
func (p *Plane) serveExec(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 7 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" || parts[6] != "exec" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	p.mu.Lock()
	p.execs = append(p.execs, parts[3]+"/"+parts[5])
	p.mu.Unlock()
	sb := p.lookup(parts[3], parts[5])
	q := r.URL.Query()
	argv := q["command"]
	if sb == nil || len(argv) == 0 {
		http.Error(w, `{"kind":"Status","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"v5.channel.k8s.io"}})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != "v5.channel.k8s.io" {
		conn.Close(websocket.StatusProtocolError, "v5.channel.k8s.io only")
		return
	}
	conn.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = sb.root
	cmd.Env = sb.environ(nil)
	var wmu sync.Mutex
	send := func(ch byte, b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return conn.Write(ctx, websocket.MessageBinary, append([]byte{ch}, b...))
	}
	var stdin io.WriteCloser
	var outs []io.Reader
	var chans []byte
	var ptmx *os.File
	if q.Get("tty") == "true" {
		if ptmx, err = pty.Start(cmd); err != nil {
			p.execFailed(ctx, send, err)
			return
		}
		stdin, outs, chans = ptmx, []io.Reader{ptmx}, []byte{chStdout}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		so, _ := cmd.StdoutPipe()
		se, _ := cmd.StderrPipe()
		stdin, _ = cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			p.execFailed(ctx, send, err)
			return
		}
		outs, chans = []io.Reader{so, se}, []byte{chStdout, chStderr}
	}
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	sb.mu.Lock()
	sb.procs[int32(cmd.Process.Pid)] = &proc{cmd: cmd, done: make(chan struct{})}
	pr := sb.procs[int32(cmd.Process.Pid)]
	sb.mu.Unlock()

	// The client's messages: stdin, its end, window sizes. A client that
	// goes away kills the program (a real kubelet would leave it running;
	// the provider bounds it with timeout).
	go func() {
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				kill()
				return
			}
			if len(msg) == 0 {
				continue
			}
			switch msg[0] {
			case chStdin:
				_, _ = stdin.Write(msg[1:])
			case chClose:
				if len(msg) > 1 && msg[1] == chStdin && ptmx == nil {
					stdin.Close()
				}
			case chResize:
				var sz struct{ Width, Height uint16 }
				if json.Unmarshal(msg[1:], &sz) == nil && ptmx != nil {
					_ = pty.Setsize(ptmx, &pty.Winsize{Cols: sz.Width, Rows: sz.Height})
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i, r := range outs {
		ch := chans[i]
		wg.Go(func() {
			buf := make([]byte, 16<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 && send(ch, buf[:n]) != nil {
					kill()
				}
				if err != nil {
					return
				}
			}
		})
	}
	if ptmx != nil {
		_ = cmd.Wait()
		kill()
		wg.Wait()
		ptmx.Close()
	} else {
		wg.Wait()
		_ = cmd.Wait()
	}
	sb.mu.Lock()
	delete(sb.procs, int32(cmd.Process.Pid))
	sb.mu.Unlock()
	close(pr.done)
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	status := map[string]any{"metadata": map[string]any{}, "status": "Success"}
	if code != 0 {
		status = map[string]any{"metadata": map[string]any{}, "status": "Failure",
			"message": "command terminated with non-zero exit code: exit status " + strconv.Itoa(code),
			"reason":  "NonZeroExitCode",
			"details": map[string]any{"causes": []map[string]any{{"reason": "ExitCode", "message": strconv.Itoa(code)}}}}
	}
	b, _ := json.Marshal(status)
	_ = send(chError, b)
	conn.Close(websocket.StatusNormalClosure, "")
}

// execFailed reports a program that could not start, as the kubelet does.
func (p *Plane) execFailed(ctx context.Context, send func(byte, []byte) error, err error) {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "status": "Failure", "message": err.Error()})
	_ = send(chError, b)
}

// Execs lists the pods exec'd in ("namespace/pod"), in order.
func (p *Plane) Execs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.execs...)
}
