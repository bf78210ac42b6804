package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestConvertedSpecIsCurrent fails when the committed OpenAPI 3 toolbox
// description differs from what the converter makes of the vendor's
// Swagger 2.0 file, so that the generated client cannot silently drift.
func TestConvertedSpecIsCurrent(t *testing.T) {
	dir := filepath.Join("..", "spec")
	out := filepath.Join(t.TempDir(), "toolbox-openapi3.json")
	if err := convert(filepath.Join(dir, "toolbox-swagger.yaml"), out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "toolbox-openapi3.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("spec/toolbox-openapi3.json is stale: run make generate-daytona")
	}
}
