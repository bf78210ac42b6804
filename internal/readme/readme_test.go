// Package readme checks that the Go programs the README shows build
// against the module as it is.
package readme

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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

// Every Go block of the README is a complete program that builds: each is
// laid, through an overlay, into a directory of this module of its own and
// built with go build.
func TestREADMEProgramsBuild(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(md))
	if len(blocks) < 4 {
		t.Fatalf("%d Go blocks in the README, want one per framework at least", len(blocks))
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	replace := map[string]string{}
	var pkgs []string
	for i, b := range blocks {
		if !strings.HasPrefix(b, "package main\n") {
			t.Errorf("README Go block %d is not a complete program:\n%s", i+1, b)
			continue
		}
		src := filepath.Join(tmp, fmt.Sprintf("snippet%d.go", i))
		if err := os.WriteFile(src, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := fmt.Sprintf("snippet%d", i)
		replace[filepath.Join(here, dir, "main.go")] = src
		pkgs = append(pkgs, "./"+dir)
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	ov := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	// Several main packages at once: go build compiles them and discards
	// the binaries. A failure names the block's directory (snippetN is
	// block N+1).
	out, err := exec.Command("go", append([]string{"build", "-overlay", ov}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Errorf("README Go blocks do not build: %v\n%s", err, out)
	}
}
