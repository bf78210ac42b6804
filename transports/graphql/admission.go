package graphql

import (
	"context"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/computemw/kit/computemw"
)

// OpDocument is the operation a GraphQL document is admitted as, before it
// is parsed: a POST, or a subscribe message on the WebSocket. Policies see
// it like any operation of the kit: the authenticator requires
// credentials for it unless it is listed in its public operations, and
// the rate limiter counts it, so a document costs one request of the
// caller's rate, and each field in it that creates or uses a sandbox one
// more.
const OpDocument computemw.Op = "graphql"

// documentGate admits each document received on a WebSocket connection
// before gqlgen parses it; over HTTP, ServeHTTP has admitted the request.
type documentGate struct{ h *Handler }

var (
	_ gql.HandlerExtension          = documentGate{}
	_ gql.OperationParameterMutator = documentGate{}
)

func (documentGate) ExtensionName() string               { return "ComputeAdmission" }
func (documentGate) Validate(gql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements gql.OperationParameterMutator: it
// runs before the document is parsed.
func (g documentGate) MutateOperationParameters(ctx context.Context, _ *gql.RawParams) *gqlerror.Error {
	if connFrom(ctx) == nil {
		return nil
	}
	actx, err := g.h.kit.Admit(ctx, OpDocument, caller(ctx))
	if err != nil {
		// gqlgen presents it (presentError): the kit's code is kept.
		err = fail(actx, err)
		return &gqlerror.Error{Message: err.Error(), Err: err}
	}
	return nil
}
