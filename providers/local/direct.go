//go:build linux

package local

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// directArgv returns the words of a command that a POSIX shell would run
// as one program with those words as its arguments, and true; otherwise
// false. Such a command is started by the sandbox's init without a shell
// in front of it: one fork and exec instead of two, as make does for
// recipe lines without shell syntax.
//
// A command qualifies when it holds only characters that no shell reads
// as syntax or expands (letters, digits, space, tab and -_./:=,+@%^) and
// its first word is not a variable assignment, a reserved word or a
// built-in of the shell (which runs it differently from the program of
// that name). Anything else, and a direct start that fails (a program
// not found, not executable, a script without #!), goes to /bin/sh -c,
// so a command means exactly what it means to the shell.
func directArgv(command string) ([]string, bool) {
	if command == "" || len(command) > 4096 {
		return nil, false
	}
	for i := 0; i < len(command); i++ {
		if !plainByte(command[i]) {
			return nil, false
		}
	}
	words := strings.FieldsFunc(command, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(words) == 0 || strings.ContainsRune(words[0], '=') || shellWords[words[0]] {
		return nil, false
	}
	return words, true
}

// plainByte reports whether a shell takes b literally in an unquoted word
// (or as the space between words).
func plainByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte(" \t-_./:=,+@%^", b) >= 0
}

// shellWords are the reserved words and built-ins of dash and bash that
// plainByte lets through: a command starting with one runs in a shell.
var shellWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`. : alias bg bind break builtin caller cd chdir command compgen
		complete continue declare dirs disown do done echo elif else enable esac eval exec exit
		export false fc fg fi for function getopts hash help history if in jobs kill let local
		logout mapfile popd printf pushd pwd read readarray readonly return select set shift
		shopt source suspend test then time times trap true type typeset ulimit umask unalias
		unset until wait while`) {
		m[w] = true
	}
	return m
}()

// startsDirectly reports whether bwrap can start argv, the words of a
// command without shell syntax, as the sandbox's first process instead of
// a shell (directArgv): only where the shell would find the same program,
// so that the command means the same. That is, on the host's root
// filesystem with the default PATH, a program found in a directory bound
// into every sandbox (after symlinks), executable by anyone, and an ELF
// binary (a script without #! runs under the shell). Anything else, a
// program missing included, goes to the shell, which reports it as the
// shell does.
func (s *sandbox) startsDirectly(argv []string, extra map[string]string) bool {
	if s.tmpl != nil || len(argv) == 0 {
		return false
	}
	for _, env := range []map[string]string{s.env, extra} {
		if v, ok := env["PATH"]; ok && v != sandboxPath {
			return false
		}
	}
	name := argv[0]
	var candidates []string
	switch {
	case strings.HasPrefix(name, "/"):
		candidates = []string{name}
	case strings.Contains(name, "/"):
		return false // relative to the workspace
	default:
		for _, dir := range filepath.SplitList(sandboxPath) {
			candidates = append(candidates, filepath.Join(dir, name))
		}
	}
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || !s.p.iso.visible(real) {
			return false
		}
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		f, err := os.Open(real)
		if err != nil {
			return false
		}
		magic := make([]byte, 4)
		_, err = f.ReadAt(magic, 0)
		f.Close()
		return err == nil && bytes.Equal(magic, []byte("\x7fELF"))
	}
	return false
}
