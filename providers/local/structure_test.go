//go:build linux

package local_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// packageFuncs parses the package's non-test files and those of its
// internal packages, and returns the names of the functions and methods
// each declares: per file of the package ("profile.go"), and per internal
// package ("internal/cgroups"), all its files together.
func packageFuncs(t *testing.T) map[string]map[string]bool {
	t.Helper()
	own, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	internal, err := filepath.Glob("internal/*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range append(own, internal...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		key := name
		if strings.HasPrefix(name, "internal/") {
			key = filepath.Dir(name)
		}
		if out[key] == nil {
			out[key] = map[string]bool{}
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				out[key][fd.Name.Name] = true
			}
		}
	}
	return out
}

// The table of measures in the package documentation names real code:
// every "file: function" (or "internal package: function") of its where
// column exists.
func TestDocTableNamesRealCode(t *testing.T) {
	funcs := packageFuncs(t)
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.Lines(string(doc)) {
		cols := strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "//")), "|")
		if len(cols) != 5 || strings.TrimSpace(cols[1]) == "measure" || strings.HasPrefix(strings.TrimSpace(cols[1]), "---") {
			continue
		}
		rows++
		for _, part := range strings.Split(cols[2], ";") {
			file, names, ok := strings.Cut(strings.TrimSpace(part), ":")
			if !ok {
				t.Errorf("row %q: %q is not \"file: functions\"", cols[1], part)
				continue
			}
			declared, ok := funcs[file]
			if !ok {
				t.Errorf("row %q names %s, which is not a file of the package nor an internal package", strings.TrimSpace(cols[1]), file)
				continue
			}
			for _, fn := range strings.Split(names, ",") {
				if fn = strings.TrimSpace(fn); !declared[fn] {
					t.Errorf("row %q names %s in %s, which declares no such function", strings.TrimSpace(cols[1]), fn, file)
				}
			}
		}
	}
	if rows < 10 {
		t.Errorf("found %d rows in doc.go's table of measures", rows)
	}
}

// sourcesMentioning lists the non-test files of the package and of its
// internal packages that match re.
func sourcesMentioning(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	internal, _ := filepath.Glob("internal/*/*.go")
	files = append(files, internal...)
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if re.Match(b) {
			out = append(out, name)
		}
	}
	return out
}

// The development mode is one seam: only the isolation chosen at New
// reads the option; no other code branches on it.
func TestInsecureModeIsOneSeam(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	var readers []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "InsecureNoNamespaces" {
				readers = append(readers, fset.Position(sel.Pos()).String())
			}
			return true
		})
	}
	if len(readers) != 1 || !strings.HasPrefix(readers[0], "isolation.go:") {
		t.Errorf("InsecureNoNamespaces is read at %v, want once, in isolation.go (newIsolation)", readers)
	}
}

// The profile is assembled in one place: bwrap's isolation options, the
// rlimits and the environment's option form appear in profile.go only.
func TestProfileAssembledInOnePlace(t *testing.T) {
	for _, marker := range []string{`"--unshare-`, `"--seccomp"`, `"--cap-drop"`, `"--setenv"`, `"--bind-fd"`, `ulimit -`} {
		got := sourcesMentioning(t, regexp.MustCompile(regexp.QuoteMeta(marker)))
		if len(got) != 1 || got[0] != "profile.go" {
			t.Errorf("%s appears in %v, want only profile.go", marker, got)
		}
	}
}
