package local

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Runtime describes how to run source code of one language in a sandbox.
type Runtime struct {
	// Name is the language's canonical name ("python").
	Name string
	// Aliases are other names clients may use ("py", "python3").
	Aliases []string
	// Command is the interpreter and its leading arguments; the program
	// file is appended. Command[0] is looked up in the sandbox's PATH.
	Command []string
	// Ext is the program file's extension, with the dot (".py").
	Ext string
}

// DefaultRuntimes is the runtime table used when Config.Runtimes is nil.
// Entries whose interpreter is missing from the host are reported as
// unavailable rather than failing at run time.
func DefaultRuntimes() []Runtime {
	return []Runtime{
		{Name: "python", Aliases: []string{"python3", "py"}, Command: []string{"python3", "-u"}, Ext: ".py"},
		{Name: "node", Aliases: []string{"javascript", "js", "nodejs"}, Command: []string{"node"}, Ext: ".js"},
		{Name: "bash", Command: []string{"bash"}, Ext: ".sh"},
		{Name: "sh", Aliases: []string{"shell"}, Command: []string{"sh"}, Ext: ".sh"},
		{Name: "ruby", Aliases: []string{"rb"}, Command: []string{"ruby"}, Ext: ".rb"},
		{Name: "perl", Aliases: []string{"pl"}, Command: []string{"perl"}, Ext: ".pl"},
		{Name: "php", Command: []string{"php"}, Ext: ".php"},
	}
}

// sandboxPath is the PATH inside every sandbox.
const sandboxPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runtimeTable resolves language names to runtimes present on the host.
type runtimeTable struct {
	byName    map[string]*Runtime // every name and alias
	available map[string]bool     // canonical name → interpreter found
	missing   map[string]string   // canonical name → why not
}

func newRuntimeTable(rts []Runtime, visible func(string) bool) (*runtimeTable, error) {
	t := &runtimeTable{byName: map[string]*Runtime{}, available: map[string]bool{}, missing: map[string]string{}}
	for i := range rts {
		rt := &rts[i]
		if rt.Name == "" || len(rt.Command) == 0 {
			return nil, fmt.Errorf("local: runtime %d: name and command are required", i)
		}
		for _, n := range append([]string{rt.Name}, rt.Aliases...) {
			if _, dup := t.byName[n]; dup {
				return nil, fmt.Errorf("local: runtime name %q is used twice", n)
			}
			t.byName[n] = rt
		}
		if _, err := lookPathIn(rt.Command[0], visible); err != nil {
			t.missing[rt.Name] = err.Error()
		} else {
			t.available[rt.Name] = true
		}
	}
	return t, nil
}

// names lists every name and alias whose runtime is available, sorted.
func (t *runtimeTable) names() []string {
	var out []string
	for n, rt := range t.byName {
		if t.available[rt.Name] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// lookPathIn finds an executable in the sandbox's PATH on the host, and
// checks that it (after symlinks) lies in a directory mounted into the
// sandbox.
func lookPathIn(name string, visible func(string) bool) (string, error) {
	if strings.Contains(name, "/") {
		return checkExecutable(name, visible)
	}
	for _, dir := range filepath.SplitList(sandboxPath) {
		if p, err := checkExecutable(filepath.Join(dir, name), visible); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed in the sandbox's system directories", name)
}

func checkExecutable(p string, visible func(string) bool) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not executable", p)
	}
	if !visible(real) {
		return "", fmt.Errorf("%s resolves to %s, outside the sandbox's system directories", p, real)
	}
	return p, nil
}
