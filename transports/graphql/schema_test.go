package graphql_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/computemw/kit/transports/graphql"
)

// TestGeneratedCodeMatchesSchema fails when schema.graphqls changed
// without `make generate-graphql`: the schema the generated code serves is
// the file's.
func TestGeneratedCodeMatchesSchema(t *testing.T) {
	b, err := os.ReadFile("schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	want, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(b)})
	if gerr != nil {
		t.Fatalf("schema.graphqls: %v", gerr)
	}
	format := func(s *ast.Schema) string {
		var sb strings.Builder
		formatter.NewFormatter(&sb).FormatSchema(s)
		return sb.String()
	}
	if got := format(graphql.Schema()); got != format(want) {
		t.Error("the generated code serves another schema than schema.graphqls: run make generate-graphql")
	}
}
