package kubernetes

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/computemw/kit/computemw"
)

var claimsGR = schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: "sandboxclaims"}

// The API server's errors become the kit's classes, with the server's
// message kept as the hidden cause only.
func TestAPIErrorClasses(t *testing.T) {
	for _, c := range []struct {
		err  error
		want computemw.Code
	}{
		{apierrors.NewNotFound(claimsGR, "x"), computemw.CodeNotFound},
		{apierrors.NewGone("old"), computemw.CodeNotFound},
		{apierrors.NewBadRequest("bad"), computemw.CodeBadRequest},
		{apierrors.NewInvalid(schema.GroupKind{Group: claimsGR.Group, Kind: "SandboxClaim"}, "x", nil), computemw.CodeBadRequest},
		{apierrors.NewTooManyRequests("slow down", 3), computemw.CodeRateLimited},
		{apierrors.NewTimeoutError("slow", 1), computemw.CodeTimeout},
		{apierrors.NewForbidden(claimsGR, "x", errors.New("RBAC: no")), computemw.CodeUnavailable},
		{apierrors.NewUnauthorized("who"), computemw.CodeUnavailable},
		{apierrors.NewInternalError(errors.New("etcd down")), computemw.CodeUnavailable},
		{errors.New("connection refused"), computemw.CodeUnavailable},
	} {
		var ke *computemw.Error
		if err := apiError("op", c.err); !errors.As(err, &ke) || ke.Code != c.want {
			t.Errorf("%v: got %v, want %s", c.err, err, c.want)
		} else if strings.Contains(ke.Message, "RBAC") || strings.Contains(ke.Message, "etcd") {
			t.Errorf("%v: the message %q leaks the server's", c.err, ke.Message)
		}
	}
	var ke *computemw.Error
	if errors.As(apiError("op", apierrors.NewTooManyRequests("x", 3)), &ke); ke.RetryAfter.Seconds() != 3 {
		t.Errorf("Retry-After %v, want 3s", ke.RetryAfter)
	}
	if apiError("op", nil) != nil {
		t.Error("nil became an error")
	}
}

func TestGRPCErrorClasses(t *testing.T) {
	for c, want := range map[codes.Code]computemw.Code{
		codes.NotFound:           computemw.CodeNotFound,
		codes.PermissionDenied:   computemw.CodeBadRequest,
		codes.InvalidArgument:    computemw.CodeBadRequest,
		codes.DeadlineExceeded:   computemw.CodeTimeout,
		codes.ResourceExhausted:  computemw.CodeResource,
		codes.FailedPrecondition: computemw.CodeExecution,
		codes.Unavailable:        computemw.CodeUnavailable,
		codes.Internal:           computemw.CodeUnavailable,
	} {
		var ke *computemw.Error
		if err := grpcError("op", status.Error(c, "detail")); !errors.As(err, &ke) || ke.Code != want {
			t.Errorf("%s: got %v, want %s", c, err, want)
		}
	}
}

// sandboxd's and the router's HTTP answers.
func TestStatusErrorClasses(t *testing.T) {
	for st, want := range map[int]computemw.Code{
		400: computemw.CodeBadRequest, 403: computemw.CodeBadRequest, 409: computemw.CodeBadRequest,
		404: computemw.CodeNotFound, 413: computemw.CodePayloadTooLarge, 429: computemw.CodeRateLimited,
		507: computemw.CodeResource, 502: computemw.CodeUnavailable, 500: computemw.CodeUnavailable,
	} {
		resp := &http.Response{StatusCode: st, Body: io.NopCloser(strings.NewReader(`{"detail":"Could not connect to the backend sandbox: x"}`))}
		var ke *computemw.Error
		if err := statusError("op", resp); !errors.As(err, &ke) || ke.Code != want {
			t.Errorf("%d: got %v, want %s", st, err, want)
		}
	}
}
