package graphql

import (
	"context"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// What a document may cost before it runs. Parsing is linear in the
// document's tokens, but validation is not: the rule that same-named
// fields must be mergeable compares them in pairs, so a document of n
// fields named alike costs n² comparisons. The token limit bounds n
// (`{ __typename __typename ... }` is one token per field): at the
// default of 1000, the worst document (998 such fields) costs about a
// tenth of a CPU-second, where an unbounded one of 260 KB cost 18. The
// introspection query of GraphiQL has 150 tokens.
const (
	defaultMaxTokens = 1000
	// maxValidationErrors caps the errors a document's validation
	// reports: fields that conflict pairwise would otherwise yield n²
	// of them (a 34 KB document, half a million errors and 130 MB).
	maxValidationErrors = 20
	// maxCachedQuery is the longest query text kept in the parsed-query
	// cache: documents of real clients are short, and a long one (a large
	// string literal) would make the cache hold as many of them as it
	// has entries.
	maxCachedQuery = 4 << 10
	// queryCacheSize is how many parsed documents are kept: at most
	// about 10 MB (a parsed document of 4 KiB is at most about 80 KB).
	queryCacheSize = 100
)

// validationRules returns gqlgen's default validation rules whose errors
// stop at maxValidationErrors for one document: the rules keep walking it,
// but build no more errors. gqlgen calls it once per validation.
func validationRules() *rules.Rules {
	n := 0 // a document is validated on one goroutine
	def := rules.NewDefaultRules()
	capped := rules.NewRules()
	// gqlgen swaps these two for their variants without suggestions,
	// under these names: cap those too (the swap then keeps them).
	for _, r := range []core.Rule{rules.FieldsOnCorrectTypeRuleWithoutSuggestions, rules.ScalarLeafsRuleWithoutSuggestions} {
		def.AddRule(r.Name, r.RuleFunc)
	}
	for name, fn := range def.GetInner() {
		capped.AddRule(name, func(observers *core.Events, addError core.AddErrFunc) {
			fn(observers, func(options ...core.ErrorOption) {
				if n++; n <= maxValidationErrors {
					addError(options...)
				}
			})
		})
	}
	return capped
}

// complexityLimit refuses an operation whose complexity is over max, as
// gqlgen's FixedComplexityLimit does, computed in time linear in the
// document: each fragment's complexity is computed once however often it
// is spread (gqlgen's own walk expands every spread, so 30 fragments
// spreading the next one twice cost 2³⁰ steps). Introspection fields
// count like any other (gqlgen's skips __schema, so a document could ask
// for the schema hundreds of times).
type complexityLimit struct {
	max int
	es  gql.ExecutableSchema
}

var (
	_ gql.HandlerExtension        = (*complexityLimit)(nil)
	_ gql.OperationContextMutator = (*complexityLimit)(nil)
)

func (c *complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es gql.ExecutableSchema) error {
	c.es = es
	return nil
}

// MutateOperationContext implements gql.OperationContextMutator.
func (c *complexityLimit) MutateOperationContext(ctx context.Context, oc *gql.OperationContext) *gqlerror.Error {
	w := &complexityWalker{ctx: ctx, es: c.es, vars: oc.Variables, fragments: map[string]int{}}
	if n := w.selectionSet(oc.Operation.SelectionSet); n > c.max {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", n, c.max)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

// complexityWalker sums the complexity of a selection set: each field's
// from the schema's complexity functions (1 plus its children's by
// default), each fragment's once.
type complexityWalker struct {
	ctx       context.Context
	es        gql.ExecutableSchema
	vars      map[string]any
	fragments map[string]int // complexity of each fragment computed so far; -1 while it is
}

func (w *complexityWalker) selectionSet(set ast.SelectionSet) int {
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			total = saturatingAdd(total, w.field(s))
		case *ast.InlineFragment:
			total = saturatingAdd(total, w.selectionSet(s.SelectionSet))
		case *ast.FragmentSpread:
			total = saturatingAdd(total, w.fragment(s))
		}
	}
	return total
}

func (w *complexityWalker) fragment(s *ast.FragmentSpread) int {
	if s.Definition == nil {
		return 0
	}
	if n, ok := w.fragments[s.Name]; ok {
		if n < 0 { // a cycle, which validation refuses
			return 0
		}
		return n
	}
	w.fragments[s.Name] = -1
	n := w.selectionSet(s.Definition.SelectionSet)
	w.fragments[s.Name] = n
	return n
}

func (w *complexityWalker) field(f *ast.Field) int {
	child := 0
	if len(f.SelectionSet) > 0 {
		child = w.selectionSet(f.SelectionSet)
	}
	if f.ObjectDefinition == nil {
		return saturatingAdd(1, child)
	}
	args := f.ArgumentMap(w.vars)
	owners := []*ast.Definition{f.ObjectDefinition}
	if f.ObjectDefinition.Kind == ast.Interface {
		// An interface's field costs what its costliest implementation does.
		owners = w.es.Schema().GetPossibleTypes(f.ObjectDefinition)
	}
	cost := 0
	for _, o := range owners {
		n, ok := w.es.Complexity(w.ctx, o.Name, f.Name, child, args)
		if !ok || n < 1 {
			n = saturatingAdd(1, child)
		}
		cost = max(cost, n)
	}
	return cost
}

// saturatingAdd adds two non-negative complexities without overflowing.
func saturatingAdd(a, b int) int {
	if b < 0 {
		return a
	}
	if c := a + b; c >= a {
		return c
	}
	return int(^uint(0) >> 1)
}

// queryCache keeps parsed, validated documents of at most maxCachedQuery
// bytes, so that what it holds is bounded (a document of 1000 tokens
// parses to as much as 220 KB).
type queryCache struct {
	inner gql.Cache[*ast.QueryDocument]
}

func (c queryCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	if len(query) > maxCachedQuery {
		return nil, false
	}
	return c.inner.Get(ctx, query)
}

func (c queryCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	if len(query) <= maxCachedQuery {
		c.inner.Add(ctx, query, doc)
	}
}
