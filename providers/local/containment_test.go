//go:build linux

package local_test

// Containment acceptance: nothing of the host reaches a sandbox. Each test
// fails if the protection it names is removed from the provider.

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: the sandbox gets a fixed environment, never os.Environ().
func TestContainmentHostEnvNotVisible(t *testing.T) {
	key := "COMPUTEMW_TEST_SECRET_" + strings.ToUpper(randHex())
	secret := "host-secret-" + randHex()
	t.Setenv(key, secret)
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{Env: map[string]string{"SANDBOX_VISIBLE": "yes"}})
	res := run(t, sb, `env; echo ---; tr '\0' '\n' < /proc/1/environ; echo ---; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f"; done`, computemw.ExecOptions{})
	if !strings.Contains(res.Stdout, "SANDBOX_VISIBLE=yes") {
		t.Fatalf("the sandbox's own variable is missing, so the check is void: %q", res.Stdout)
	}
	for _, s := range []string{key, secret} {
		if strings.Contains(res.Stdout+res.Stderr, s) {
			t.Errorf("the host environment variable %s is visible in the sandbox", key)
		}
	}
}

// Protection: host descriptors are made close-on-exec before bwrap starts.
func TestContainmentHostFDsNotVisible(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	path := filepath.Join(t.TempDir(), "host-only-file")
	if err := os.WriteFile(path, []byte("host only"), 0o644); err != nil {
		t.Fatal(err)
	}
	// syscall.Open, unlike os.Open, does not add O_CLOEXEC: this descriptor
	// is inherited by every exec unless the provider stops it.
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC != 0 {
		t.Fatalf("the host descriptor is not inheritable (flags %d, %v), so the check is void", flags, err)
	}

	sb := newSandbox(t, p, computemw.CreateOptions{})
	res := run(t, sb, "ls -l /proc/self/fd/", computemw.ExecOptions{})
	if res.ExitCode != 0 {
		t.Fatalf("ls: %+v", res)
	}
	if strings.Contains(res.Stdout, "host-only-file") {
		t.Errorf("the host file %s is open in the sandbox:\n%s", path, res.Stdout)
	}
	var fds []int
	for line := range strings.Lines(res.Stdout) {
		f := strings.Fields(line)
		if i := slices.Index(f, "->"); i > 0 {
			n, err := strconv.Atoi(f[i-1])
			if err != nil {
				t.Fatalf("unparsable ls line %q", line)
			}
			fds = append(fds, n)
		}
	}
	if len(fds) < 3 {
		t.Fatalf("ls listed %v, not even stdio; the check is void:\n%s", fds, res.Stdout)
	}
	// 0, 1, 2 and ls's own descriptor for the directory it reads.
	for _, n := range fds {
		if n > 3 {
			t.Errorf("descriptor %d is open in the sandbox (host descriptor was %d):\n%s", n, fd, res.Stdout)
		}
	}
}

// Protection: bwrap starts in / and chdirs to the workspace; the host's
// working directory is not mounted.
func TestContainmentHostCwdNotVisible(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := "cwd-marker-" + randHex()
	content := "marker-content-" + randHex()
	if err := os.WriteFile(filepath.Join(dir, marker), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	sb := newSandbox(t, p, computemw.CreateOptions{})

	if res := run(t, sb, "pwd", computemw.ExecOptions{}); res.Stdout != "/workspace\n" {
		t.Errorf("pwd = %q, want /workspace", res.Stdout)
	}
	if res := run(t, sb, "ls -a", computemw.ExecOptions{}); strings.Contains(res.Stdout, marker) {
		t.Errorf("the host working directory's files are listed in the sandbox: %q", res.Stdout)
	}
	for _, cmd := range []string{"cat " + marker, "cat " + filepath.Join(dir, marker)} {
		res := run(t, sb, cmd, computemw.ExecOptions{})
		if res.ExitCode == 0 || strings.Contains(res.Stdout, content) {
			t.Errorf("%s: the host working directory's marker is readable (exit %d, stdout %q)", cmd, res.ExitCode, res.Stdout)
		}
	}
}

// Protection: the mount namespace holds only the system directories, the
// sandbox's own workspace and a private /tmp.
func TestContainmentHostPathsNotReadable(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	a := newSandbox(t, p, computemw.CreateOptions{})
	b := newSandbox(t, p, computemw.CreateOptions{})
	secret := "sandbox-a-secret-" + randHex()
	if err := a.WriteFile(t.Context(), "secret.txt", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	if res := run(t, a, "cat secret.txt", computemw.ExecOptions{}); res.Stdout != secret {
		t.Fatalf("sandbox A cannot read its own secret (%+v); the check is void", res)
	}
	wsA := local.SandboxWorkspace(a)
	if _, err := os.Stat(filepath.Join(local.SandboxWorkspaceFiles(a), "secret.txt")); err != nil {
		t.Fatalf("A's secret is not in its workspace seen from the server: %v", err)
	}

	for _, tc := range []struct {
		name, cmd, hostPath string
	}{
		{"root home", "ls -la /root", "/root"},
		{"home", "ls -la /home", "/home"},
		{"other workspace by host path", "cat " + filepath.Join(wsA, "secret.txt"), wsA},
		{"other workspace directory", "ls -la " + wsA, wsA},
		{"instance directory", "ls -la " + filepath.Dir(wsA), filepath.Dir(wsA)},
		{"other workspace via /workspace/..", "cat /workspace/../" + filepath.Base(wsA) + "/secret.txt", wsA},
		{"parent of the workspace", "ls -la /workspace/.. && ls -la /workspace/../" + filepath.Base(wsA), wsA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.hostPath); err != nil {
				t.Skipf("%s does not exist on this host", tc.hostPath)
			}
			res := run(t, b, tc.cmd, computemw.ExecOptions{})
			if res.ExitCode == 0 {
				t.Errorf("%q succeeded in sandbox B:\n%s", tc.cmd, res.Stdout)
			}
			if strings.Contains(res.Stdout, secret) {
				t.Errorf("%q revealed sandbox A's secret", tc.cmd)
			}
		})
	}
}

// Protection: system directories are bound read-only, the root is not the
// host's, and the sandbox's uid owns nothing outside its workspace.
func TestContainmentWriteOutsideWorkspaceFails(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	name := "computemw-write-probe-" + randHex()
	for _, dir := range []string{"/", "/usr", "/usr/bin", "/etc", "/var", "/bin", "/proc/sys/kernel"} {
		t.Run(dir, func(t *testing.T) {
			target := filepath.Join(dir, name)
			t.Cleanup(func() { _ = os.Remove(target) })
			res := run(t, sb, "echo x > "+target+" && echo WROTE", computemw.ExecOptions{})
			if res.ExitCode == 0 || strings.Contains(res.Stdout, "WROTE") {
				t.Errorf("writing %s inside the sandbox succeeded", target)
			}
			if _, err := os.Lstat(target); err == nil {
				t.Errorf("the sandbox created %s on the host", target)
			}
		})
	}
	t.Run("workspace and /tmp are writable", func(t *testing.T) {
		res := run(t, sb, "echo x > /workspace/ok && echo y > /tmp/ok && cat /workspace/ok /tmp/ok", computemw.ExecOptions{})
		if res.Stdout != "x\ny\n" {
			t.Errorf("control writes failed: %+v", res)
		}
	})
}

// Protection: the network namespace. The sandbox's 127.0.0.1 is its own.
func TestContainmentHostLoopbackUnreachable(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-acceptDone
		close(accepted)
		for c := range accepted {
			_ = c.Close()
		}
	})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	cases := []struct{ name, cmd, needs string }{
		{"bash /dev/tcp", "exec 3<>/dev/tcp/127.0.0.1/" + port + " && echo CONNECTED", "bash"},
		{"python socket", "python3 -c \"import socket; socket.create_connection(('127.0.0.1', " + port + "), timeout=3); print('CONNECTED')\"", "python"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Contains(p.Languages(), tc.needs) {
				t.Skipf("%s is not installed on this host", tc.needs)
			}
			cmd := tc.cmd
			if tc.needs == "bash" {
				cmd = "bash -c '" + cmd + "'"
			}
			res := run(t, sb, cmd, computemw.ExecOptions{Timeout: 10 * time.Second})
			if res.ExitCode == 0 || strings.Contains(res.Stdout, "CONNECTED") {
				t.Errorf("the sandbox connected to the host's 127.0.0.1:%s: %+v", port, res)
			}
			// The sandbox's connect has completed, or failed, by now. A
			// control connection from the host queues behind any
			// connection the sandbox made, so it must be the first one the
			// listener accepts.
			ctl, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer ctl.Close()
			select {
			case c := <-accepted:
				defer c.Close()
				if c.RemoteAddr().String() != ctl.LocalAddr().String() {
					t.Errorf("the listener accepted a connection from %s before the host's control connection: the sandbox reached the host", c.RemoteAddr())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the listener never accepted the host's control connection")
			}
		})
	}
}

// Protection: --unshare-net. Only the sandbox's own loopback exists.
func TestContainmentNetworkOnlyLoopback(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	res := run(t, sb, "cat /proc/net/dev", computemw.ExecOptions{})
	var ifaces []string
	for line := range strings.Lines(res.Stdout) {
		if name, _, ok := strings.Cut(line, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if !slices.Equal(ifaces, []string{"lo"}) {
		t.Errorf("network interfaces in the sandbox: %v, want only lo\n%s", ifaces, res.Stdout)
	}
	// Asking for the network is refused unless the provider allows it.
	_, err := p.Create(t.Context(), computemw.CreateOptions{Network: true})
	wantCode(t, err, computemw.CodeForbidden)
}

// Protection: an unprivileged uid and no capabilities.
func TestContainmentUnprivileged(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	res := run(t, sb, "id -u; id -g; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status", computemw.ExecOptions{})
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 7 {
		t.Fatalf("unexpected output %q (stderr %q)", res.Stdout, res.Stderr)
	}
	if lines[0] == "0" || lines[1] == "0" {
		t.Errorf("the sandbox runs as uid %s gid %s", lines[0], lines[1])
	}
	for _, l := range lines[2:] {
		name, val, _ := strings.Cut(l, ":")
		if strings.Trim(strings.TrimSpace(val), "0") != "" {
			t.Errorf("%s = %s, want no capabilities", name, strings.TrimSpace(val))
		}
	}
	// On the host side, the sandbox's processes are not root either: the
	// workspace files it creates belong to an unprivileged uid.
	run(t, sb, "echo x > made-inside", computemw.ExecOptions{})
	fi, err := os.Stat(filepath.Join(local.SandboxWorkspaceFiles(sb), "made-inside"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid == 0 {
		t.Error("a file created in the sandbox belongs to host root")
	}
}

// Protection: --disable-userns. Nested user namespaces would give back
// capabilities inside them.
func TestContainmentNestedUserNamespaceRefused(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed on this host")
	}
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	if res := run(t, sb, "command -v unshare", computemw.ExecOptions{}); res.ExitCode != 0 {
		t.Skip("unshare is not visible in the sandbox")
	}
	for _, cmd := range []string{"unshare -U true", "unshare -Ur id -u"} {
		res := run(t, sb, cmd, computemw.ExecOptions{})
		if res.ExitCode == 0 {
			t.Errorf("%q succeeded in the sandbox: %q", cmd, res.Stdout)
		}
	}
}

// Protection: the sandbox's init runs the server's own binary, which no
// program of the sandbox can read or trace: its descriptor is closed, and
// the init is not dumpable, so /proc/1 is closed to the sandbox's uid.
func TestContainmentServerBinaryUnreachable(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	// The first execution runs without the init; the second starts it.
	run(t, sb, "true", computemw.ExecOptions{})
	res := run(t, sb, `
		echo "self=$$"
		for f in /proc/1/exe /proc/1/mem /proc/1/environ /proc/1/maps; do
			if head -c 4 "$f" >/dev/null 2>&1; then echo "READABLE $f"; fi
		done
		if ls /proc/1/fd/ >/dev/null 2>&1; then echo "READABLE /proc/1/fd"; fi
		for fd in /proc/self/fd/*; do
			[ -f "$fd" ] || continue
			if [ "$(head -c 4 "$fd" 2>/dev/null | od -An -c | tr -d ' ')" = "177ELF" ]; then echo "ELF $fd"; fi
		done
		cat /proc/1/cmdline | tr '\0' ' '; echo`, computemw.ExecOptions{})
	if !strings.Contains(res.Stdout, "self=") || local.SandboxInitPID(sb) == 0 {
		t.Fatalf("the check did not run, or not beside an init: %+v", res)
	}
	if strings.Contains(res.Stdout, "READABLE") || strings.Contains(res.Stdout, "ELF") {
		t.Errorf("the server's binary or its init is reachable from the sandbox:\n%s", res.Stdout)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Stdout, exe) {
		t.Errorf("the server binary's host path %s shows in the sandbox:\n%s", exe, res.Stdout)
	}
}
