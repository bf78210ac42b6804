package main

// (f) Real time over WebSocket, through the kit's net/http route group:
// how long a line printed inside a sandbox takes to reach a WebSocket
// client, and how long from create-sandbox to the first output of a
// command, each beside the same latency for a process on the host read
// through a bare pipe.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

const (
	wsLines   = 200 // timestamped lines, one every 20 ms
	wsSamples = 30  // create-sandbox → first output samples
)

// tickProgram prints the wall clock in nanoseconds every 20 ms. Sandboxes
// share the host's clock, so the receiver computes the delivery latency of
// each line as now − printed.
var tickProgram = fmt.Sprintf("import time\nfor _ in range(%d):\n    print(time.time_ns(), flush=True)\n    time.sleep(0.02)\n", wsLines)

// wsBaselines are the host-pipe baselines of (f), measured on a clean
// host.
type wsBaselines struct{ line, first series }

// measureWSBaselines times a line read from a host pipe and the first
// byte of a spawned `echo hi`.
func measureWSBaselines(ctx context.Context) (wsBaselines, error) {
	line, err := pipeLineLatency(ctx)
	if err != nil {
		return wsBaselines{}, fmt.Errorf("bare pipe: %w", err)
	}
	line.name = "line printed → read from a host pipe (baseline)"
	first := measureD(wsSamples, 1, func() (time.Duration, error) { return pipeFirstOutput(ctx) })
	first.name = "spawn `echo hi` → first byte on a host pipe (baseline)"
	return wsBaselines{line, first}, nil
}

// wsReport measures the WebSocket protocol of the net/http server at base
// (the kit's route group under /api) and prints table (f) beside the
// baselines.
func wsReport(ctx context.Context, tw *tabwriter.Writer, base string, b wsBaselines) error {
	url := "ws" + strings.TrimPrefix(base, "http") + "/api/ws"
	wsLine, err := wsLineLatency(ctx, url)
	if err != nil {
		return fmt.Errorf("websocket lines: %w", err)
	}
	wsLine.name = "line printed in a sandbox → WebSocket client"
	wsFirst := measureD(wsSamples, 1, func() (time.Duration, error) { return wsFirstOutput(ctx, url) })
	wsFirst.name = "create-sandbox → first output of `echo hi`"

	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "(f) WebSocket over net/http, loopback\tok\tmedian\tp95\tp99\tmedian vs baseline")
	for _, r := range []struct {
		s, base series
		want    int
	}{{b.line, b.line, wsLines}, {wsLine, b.line, wsLines}, {b.first, b.first, wsSamples}, {wsFirst, b.first, wsSamples}} {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%.2fx\n", r.s.name, len(r.s.d), r.want,
			ms2(r.s.pct(.5)), ms2(r.s.pct(.95)), ms2(r.s.pct(.99)), float64(r.s.pct(.5))/float64(r.base.pct(.5)))
	}
	tw.Flush()
	if len(wsLine.d) != wsLines || len(wsFirst.d) != wsSamples {
		return fmt.Errorf("websocket: %d of %d lines, %d of %d sessions", len(wsLine.d), wsLines, len(wsFirst.d), wsSamples)
	}
	return nil
}

// ms2 formats sub-millisecond latencies.
func ms2(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// lineLatency records, for each complete line of timestamps, now − the
// timestamp it carries.
type lineLatency struct {
	s       series
	partial string
}

func (l *lineLatency) add(data string) error {
	now := time.Now().UnixNano()
	data = l.partial + data
	lines := strings.Split(data, "\n")
	l.partial = lines[len(lines)-1]
	for _, line := range lines[:len(lines)-1] {
		ts, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return fmt.Errorf("line %q: %w", line, err)
		}
		l.s.d = append(l.s.d, time.Duration(now-ts))
	}
	return nil
}

// pipeLineLatency runs tickProgram on the host and reads its stdout
// through a pipe.
func pipeLineLatency(ctx context.Context) (series, error) {
	cmd := exec.CommandContext(ctx, "python3", "-c", tickProgram)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return series{}, err
	}
	if err := cmd.Start(); err != nil {
		return series{}, err
	}
	var l lineLatency
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return l.s, err
		}
		if err := l.add(line); err != nil {
			return l.s, err
		}
	}
	return l.s, cmd.Wait()
}

// wsConn is a benchmark client of the kit's WebSocket protocol.
type wsConn struct {
	ctx context.Context
	c   *websocket.Conn
}

func dialKit(ctx context.Context, url string) (*wsConn, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	return &wsConn{ctx: ctx, c: c}, nil
}

func (w *wsConn) send(m httpapi.WSMessage) error {
	b, _ := json.Marshal(m)
	return w.c.Write(w.ctx, websocket.MessageText, b)
}

func (w *wsConn) next() (httpapi.WSMessage, error) {
	var m httpapi.WSMessage
	_, b, err := w.c.Read(w.ctx)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if m.Type == "error" {
		return m, fmt.Errorf("server error %s: %s", m.Code, m.Message)
	}
	return m, nil
}

// close ends the session; the server destroys its sandbox.
func (w *wsConn) close() { _ = w.c.Close(websocket.StatusNormalClosure, "") }

// wsLineLatency runs tickProgram in a sandbox over a WebSocket.
func wsLineLatency(ctx context.Context, url string) (series, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	w, err := dialKit(ctx, url)
	if err != nil {
		return series{}, err
	}
	defer w.close()
	if err := w.send(httpapi.WSMessage{Type: "create-sandbox"}); err != nil {
		return series{}, err
	}
	if m, err := w.next(); err != nil || m.Type != "sandbox-ready" {
		return series{}, fmt.Errorf("create-sandbox: %+v %v", m, err)
	}
	if err := w.send(httpapi.WSMessage{Type: "execute", Language: "python", Code: tickProgram}); err != nil {
		return series{}, err
	}
	var l lineLatency
	for {
		m, err := w.next()
		if err != nil {
			return l.s, err
		}
		switch {
		case m.Type == "output" && m.Stream == "stdout":
			if err := l.add(m.Data); err != nil {
				return l.s, err
			}
		case m.Type == "execution-complete":
			if *m.ExitCode != 0 {
				return l.s, fmt.Errorf("exit code %d", *m.ExitCode)
			}
			return l.s, nil
		default:
			return l.s, fmt.Errorf("unexpected %+v", m)
		}
	}
}

// pipeFirstOutput spawns `echo hi` on the host and times the first byte
// read from its stdout pipe.
func pipeFirstOutput(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "-c", "echo hi")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var b [1]byte
	_, err = io.ReadFull(out, b[:])
	d := time.Since(start)
	io.Copy(io.Discard, out)
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	return d, err
}

// wsFirstOutput times, on a connection already open, create-sandbox →
// sandbox-ready → execute `echo hi` → its first output message.
func wsFirstOutput(ctx context.Context, url string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w, err := dialKit(ctx, url)
	if err != nil {
		return 0, err
	}
	defer w.close()
	var start time.Time
	// The server destroys the sandbox of the last sample's connection
	// once it sees that connection close; until then it counts toward the
	// caller's sessions. A create refused for that is tried again, after
	// a pause, as a client would, and the timing starts over.
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 50*time.Millisecond) {
		start = time.Now()
		if err := w.send(httpapi.WSMessage{Type: "create-sandbox"}); err != nil {
			return 0, err
		}
		m, err := w.next()
		if err == nil && m.Type == "sandbox-ready" {
			break
		}
		if m.Code != string(computemw.CodeRateLimited) || ctx.Err() != nil {
			return 0, fmt.Errorf("create-sandbox: %+v %v", m, err)
		}
		time.Sleep(backoff)
	}
	if err := w.send(httpapi.WSMessage{Type: "execute", Command: "echo hi"}); err != nil {
		return 0, err
	}
	m, err := w.next()
	d := time.Since(start)
	if err != nil || m.Type != "output" || m.Data != "hi\n" {
		return 0, fmt.Errorf("first output: %+v %v", m, err)
	}
	return d, nil
}
