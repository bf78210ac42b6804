// Command gen converts the Daytona toolbox API description, which is
// Swagger 2.0, to OpenAPI 3 so that oapi-codegen can generate its client
// and the contract fake can validate requests against it.
//
// It reads providers/daytona/internal/spec/toolbox-swagger.yaml and writes
// providers/daytona/internal/spec/toolbox-openapi3.json; `make
// generate-daytona` runs it from the module root before oapi-codegen.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
)

func main() {
	dir := filepath.Join("providers", "daytona", "internal", "spec")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := convert(filepath.Join(dir, "toolbox-swagger.yaml"), filepath.Join(dir, "toolbox-openapi3.json")); err != nil {
		log.Fatal(err)
	}
}

func convert(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var doc2 openapi2.T
	if err := openapi2.UnmarshalFromData(data, &doc2); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return fmt.Errorf("converting %s: %w", in, err)
	}
	raw, err := json.Marshal(doc3)
	if err != nil {
		return err
	}
	// Re-indent through encoding/json so the output is stable: map keys
	// are sorted, and the file diffs well.
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
