// Package readme checks that the Go code the README and the guides in
// docs/ show builds against the module as it is, and that their relative
// links lead to files of the repository.
package readme

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's root, relative to this package.
const root = "../.."

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(md string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(md, "\n```go\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "\n```")
		if !ok {
			return blocks
		}
		blocks = append(blocks, block+"\n")
		md = after
	}
}

// documents returns the README and every guide of docs/, as paths relative
// to the repository's root.
func documents(t *testing.T) []string {
	t.Helper()
	guides, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(guides) == 0 {
		t.Fatal("no guide in docs/")
	}
	docs := []string{"README.md"}
	for _, g := range guides {
		docs = append(docs, filepath.ToSlash(strings.TrimPrefix(g, root+string(filepath.Separator))))
	}
	return docs
}

// Every Go block of the README and of docs/*.md is a complete Go file that
// builds. A block whose package is main is a program; a block of any other
// package is a fragment: declarations (a function that mounts the kit on a
// router, say) that build as a package of their own. Each block is laid,
// through an overlay, into a directory of this module of its own, and all
// are built with one go build.
func TestDocsGoBlocksBuild(t *testing.T) {
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	replace := map[string]string{}
	var pkgs []string
	where := map[string]string{} // snippet directory -> document and block
	perDoc := map[string]int{}
	for _, doc := range documents(t) {
		md, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range goBlocks(string(md)) {
			perDoc[doc]++
			name := fmt.Sprintf("%s, Go block %d", doc, i+1)
			if !strings.HasPrefix(b, "package ") {
				t.Errorf("%s does not start with a package clause: show a complete file (package main for a program):\n%s", name, b)
				continue
			}
			dir := fmt.Sprintf("snippet%d", len(pkgs))
			src := filepath.Join(tmp, dir+".go")
			if err := os.WriteFile(src, []byte(b), 0o644); err != nil {
				t.Fatal(err)
			}
			replace[filepath.Join(here, dir, "snippet.go")] = src
			pkgs = append(pkgs, "./"+dir)
			where[dir] = name
		}
	}
	if perDoc["README.md"] == 0 {
		t.Error("the README shows no Go program")
	}
	if len(pkgs) == 0 {
		t.Fatal("no Go block to build")
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	ov := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	// Several packages at once: go build compiles them and discards the
	// results. A failure names each block's directory; the list below
	// says which document and block it is.
	out, err := exec.Command("go", append([]string{"build", "-overlay", ov}, pkgs...)...).CombinedOutput()
	if err != nil {
		var names []string
		for i := range pkgs {
			dir := fmt.Sprintf("snippet%d", i)
			if strings.Contains(string(out), dir) {
				names = append(names, dir+" is "+where[dir])
			}
		}
		t.Errorf("Go blocks do not build: %v\n%s\n%s", err, out, strings.Join(names, "\n"))
	}
}

// link matches a Markdown link's target: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// heading matches a Markdown heading line.
var heading = regexp.MustCompile(`(?m)^#{1,6} +(.+)$`)

// anchors returns the anchors GitHub gives the headings of a Markdown
// text: lower case, punctuation dropped, spaces as hyphens.
func anchors(md string) map[string]bool {
	set := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(md, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		set[b.String()] = true
	}
	return set
}

// Every relative link of the README and of docs/*.md leads to a file or
// directory of the repository, and an anchor in it to a heading of the
// Markdown file it names (web addresses are not checked).
func TestDocsLinksResolve(t *testing.T) {
	for _, doc := range documents(t) {
		md, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(md), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			p := filepath.Join(root, doc)
			if file != "" {
				p = filepath.Join(root, filepath.Dir(doc), filepath.FromSlash(file))
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
				continue
			}
			if anchor == "" || !strings.HasSuffix(p, ".md") {
				continue
			}
			linked, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors(string(linked))[anchor] {
				t.Errorf("%s links to %s: no heading has the anchor #%s", doc, target, anchor)
			}
		}
	}
}
