//go:build linux

package local

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
)

// versionTimeout bounds one runtime's version command.
const versionTimeout = 5 * time.Second

// maxVersionBytes caps what a version command may print that is kept.
const maxVersionBytes = 4096

// Runtimes implements [computemw.LanguageLister]: every runtime of the table
// whose interpreter this host has, with the version it reports. It creates
// one sandbox, runs each interpreter's --version in it (each bounded by a
// few seconds), and destroys the sandbox, so each call costs a sandbox: the
// kit calls it once and keeps the answer. A toolchain that needs host
// directories (a rustup Rust, a JDK's configuration) runs its version
// command with them bound; a runtime that prints no version has Version "".
func (p *Provider) Runtimes(ctx context.Context) ([]computemw.Runtime, error) {
	sb, err := p.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("local: runtimes: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := sb.Destroy(dctx); err != nil {
			p.log.Warn("computemw/local: destroying the runtimes sandbox", "error", err)
		}
	}()
	out := []computemw.Runtime{}
	for i := range p.cfg.Runtimes {
		rt := p.cfg.Runtimes[i]
		if !p.rt.found[&p.cfg.Runtimes[i]] || p.listedRelease(out, rt) {
			continue
		}
		version, err := runtimeVersion(ctx, sb, rt)
		if err != nil {
			return nil, fmt.Errorf("local: runtimes: %s: %w", rt.Name, err)
		}
		out = append(out, computemw.Runtime{
			Name:           rt.Name,
			Aliases:        append([]string{}, rt.Aliases...),
			Version:        version,
			Extension:      path.Ext(rt.fileName()),
			Compiled:       rt.compiled(),
			Versions:       p.rt.installedReleases(rt.Name),
			CompileOptions: slices.Clone(rt.CompileOptions),
		})
	}
	return out, nil
}

// listedRelease reports whether out already lists rt's language (rt
// being a release after the default, which Versions names).
func (p *Provider) listedRelease(out []computemw.Runtime, rt Runtime) bool {
	return slices.ContainsFunc(out, func(r computemw.Runtime) bool { return r.Name == rt.Name })
}

// runtimeVersion runs the runtime's interpreter with --version in sb and
// returns the first line it prints, or "" when it exits non-zero (it has no
// such option). Only a failure to run at all (the sandbox gone, ctx done)
// is an error.
func runtimeVersion(ctx context.Context, sb computemw.Sandbox, rt Runtime) (string, error) {
	cmd := shellQuote(rt.tool()) + " --version"
	if len(rt.Version) > 0 {
		quoted := make([]string, len(rt.Version))
		for i, a := range rt.Version {
			quoted[i] = shellQuote(a)
		}
		cmd = strings.Join(quoted, " ")
	}
	opts := computemw.ExecOptions{Timeout: versionTimeout, MaxOutputBytes: maxVersionBytes}
	var (
		res *computemw.Result
		err error
	)
	if s, ok := sb.(*sandbox); ok && len(rt.HostDirs) > 0 {
		// A toolchain outside the system directories (a rustup Rust, a
		// JDK's configuration) runs with its directories bound, as its
		// programs do.
		argv := rt.Version
		if len(argv) == 0 {
			argv = []string{rt.tool(), "--version"}
		}
		res, err = s.runWith(ctx, argv, opts, s.hostDirBinds(&rt))
	} else {
		res, err = sb.Exec(ctx, cmd+" </dev/null", opts)
	}
	if err != nil {
		if computemw.AsError(err).Code == computemw.CodeTimeout {
			return "", nil
		}
		return "", err
	}
	if res.ExitCode != 0 {
		return "", nil
	}
	return firstLine(res.Stdout + "\n" + res.Stderr), nil
}

// firstLine is the first non-blank line of s, trimmed.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

// shellQuote quotes s as one word for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
