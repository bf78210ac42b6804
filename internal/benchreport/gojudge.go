package main

// The peer: go-judge (github.com/criyle/go-judge), a sandboxed runner
// behind HTTP, run from a binary given with -gojudge (GOJUDGE in `make
// bench`) with its default settings, on a loopback port, only for its
// phase. Its POST /run runs one command in a fresh container of its
// pool.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// peerResults are the go-judge series.
type peerResults struct {
	nodeSeq  series // /run of `node -v`, one after another
	trueConc series // /run of `true`, *conc clients
	note     string // why the phase did not run, or how it ran
}

func (p peerResults) ran() bool { return len(p.nodeSeq.d) > 0 || len(p.trueConc.d) > 0 }

// runPeer starts go-judge, measures it and stops it.
func runPeer(ctx context.Context, bin string) (peerResults, error) {
	if bin == "" {
		return peerResults{note: "go-judge: skipped (give its binary with GOJUDGE=/path/to/go-judge)"}, nil
	}
	if os.Geteuid() != 0 {
		return peerResults{note: "go-judge: skipped (it runs as root with its default settings; this runs as uid " + fmt.Sprint(os.Geteuid()) + ")"}, nil
	}
	if _, err := os.Stat(bin); err != nil {
		return peerResults{}, fmt.Errorf("go-judge: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return peerResults{}, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "benchreport-gojudge-")
	if err != nil {
		return peerResults{}, err
	}
	defer os.RemoveAll(dir)
	var logs bytes.Buffer
	// Its working directory is empty, so that it reads no mount.yaml or
	// seccomp.yaml and runs with its built-in defaults.
	cmd := exec.Command(bin, "-http-addr", addr, "-silent")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return peerResults{}, fmt.Errorf("go-judge: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopPeer(cmd, exited)

	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	deadline := time.Now().Add(20 * time.Second)
	var version string
	for {
		resp, err := client.Get(base + "/version")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				var v struct {
					BuildVersion string `json:"buildVersion"`
				}
				json.Unmarshal(b, &v)
				version = v.BuildVersion
				break
			}
		}
		select {
		case err := <-exited:
			return peerResults{}, fmt.Errorf("go-judge exited: %v: %s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			return peerResults{}, fmt.Errorf("go-judge did not answer on %s: %s", addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := func(argv ...string) func() error {
		body := peerRunBody(argv)
		return func() error { return peerRun(ctx, client, base, body, argv) }
	}
	// A few unmeasured runs first: its first container is forked on
	// demand, and node's files come into the page cache.
	for range 5 {
		if err := run("node", "-v")(); err != nil {
			return peerResults{}, err
		}
	}
	var p peerResults
	if section("a") {
		p.nodeSeq = measure(*n, 1, run("node", "-v"))
		p.nodeSeq.name = "go-judge POST /run `node -v`, back to back"
	}
	if section("c") {
		p.trueConc = measure(*reqs, *conc, run("true"))
		p.trueConc.name = fmt.Sprintf("go-judge POST /run `true`, %d clients", *conc)
	}
	p.note = fmt.Sprintf("go-judge %s (%s): default settings (-parallelism = CPUs), as root, on %s, started for its phase and stopped after", version, bin, addr)
	return p, nil
}

// stopPeer ends go-judge: SIGTERM, then SIGKILL to its process group
// after five seconds.
func stopPeer(cmd *exec.Cmd, exited chan error) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// peerRunBody is go-judge's /run request for argv: no stdin, stdout and
// stderr collected, generous limits.
func peerRunBody(argv []string) []byte {
	req := map[string]any{"cmd": []map[string]any{{
		"args": argv,
		"env":  []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		"files": []map[string]any{
			{"content": ""},
			{"name": "stdout", "max": 1 << 20},
			{"name": "stderr", "max": 1 << 20},
		},
		"cpuLimit":    int64(10 * time.Second),
		"memoryLimit": 512 << 20,
		"procLimit":   64,
	}}}
	b, _ := json.Marshal(req)
	return b
}

// peerRun posts one /run and checks that the command exited 0 (and that
// `node -v` printed a version).
func peerRun(ctx context.Context, client *http.Client, base string, body []byte, argv []string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/run", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("go-judge /run: status %d: %s", resp.StatusCode, b)
	}
	var res []struct {
		Status     string            `json:"status"`
		ExitStatus int               `json:"exitStatus"`
		Error      string            `json:"error"`
		Files      map[string]string `json:"files"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("go-judge /run: %w", err)
	}
	if len(res) != 1 || res[0].Status != "Accepted" || res[0].ExitStatus != 0 {
		return fmt.Errorf("go-judge /run %q: %s", argv, b)
	}
	if argv[0] == "node" && !strings.HasPrefix(res[0].Files["stdout"], "v") {
		return errors.New("go-judge /run node -v: no version printed: " + string(b))
	}
	return nil
}
