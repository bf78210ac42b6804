// Package computelambda runs the kit's HTTP routes (or any http.Handler)
// as an AWS Lambda function behind API Gateway REST APIs (payload format
// 1.0), HTTP APIs (payload format 2.0) and Lambda function URLs.
//
// Each invocation's event becomes an *http.Request for the handler and
// its answer the event's response, through the maintained bridge
// github.com/awslabs/aws-lambda-go-api-proxy; this package only tells the
// event kinds apart, so one function serves all three. The kit's routes
// then hold exactly as on a server: authentication, RBAC, rate limits,
// quotas, metrics, 405 for a wrong method, CORS from Config.AllowedOrigins.
//
// A function is frozen as soon as it answers and may be ended without
// notice, so work left running after the answer may never finish. Build
// the kit with Config.DestroyBeforeReturn, so that a request's sandboxes
// are destroyed before it answers; serve sessions only with a shared
// Config.SessionStore and a reaper — Options.Scheduled run by a schedule
// calling kit.Sessions().Reap — since nothing in the function runs
// between invocations (docs/serverless.md).
//
//	lambda.StartHandler(computelambda.New(computehttp.Handler(kit), computelambda.Options{}))
package computelambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Options configure [New].
type Options struct {
	// StripBasePath is removed from each request's path before the
	// handler sees it: a custom domain's base path mapping, or an HTTP
	// API stage other than $default (whose name starts the raw path).
	StripBasePath string
	// Scheduled, when set, serves the function's EventBridge scheduled
	// events (source "aws.events", detail-type "Scheduled Event"): a
	// function with sessions reaps expired ones here, with
	// kit.Sessions().Reap. Its error is the invocation's. Without it such
	// an event is an [ErrUnsupportedEvent].
	Scheduled func(ctx context.Context) error
}

// Handler is a lambda.Handler serving h for API Gateway (REST and HTTP
// APIs) and function URL events.
type Handler struct {
	v1 *httpadapter.HandlerAdapter
	v2 *httpadapter.HandlerAdapterV2

	scheduled func(ctx context.Context) error
}

// New returns the Lambda handler of h; start it with
// lambda.StartHandler.
func New(h http.Handler, opts Options) *Handler {
	l := &Handler{v1: httpadapter.New(h), v2: httpadapter.NewV2(h), scheduled: opts.Scheduled}
	if opts.StripBasePath != "" {
		l.v1.StripBasePath(opts.StripBasePath)
		l.v2.StripBasePath(opts.StripBasePath)
	}
	return l
}

// ErrUnsupportedEvent is returned for an event that is neither an API
// Gateway proxy request nor a function URL request.
var ErrUnsupportedEvent = errors.New("computelambda: unsupported event: not an API Gateway proxy or function URL request")

// eventKind holds the fields that tell the payload formats apart: 2.0
// (HTTP APIs, function URLs) has version "2.0" and requestContext.http;
// 1.0 (REST APIs, HTTP APIs asked for 1.0) has httpMethod; a scheduled
// event has source "aws.events" and detail-type "Scheduled Event".
type eventKind struct {
	Source         string `json:"source"`
	DetailType     string `json:"detail-type"`
	Version        string `json:"version"`
	HTTPMethod     string `json:"httpMethod"`
	RequestContext struct {
		HTTP *struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

// Invoke implements lambda.Handler: it serves one event and returns the
// response event of its format.
func (l *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var kind eventKind
	if err := json.Unmarshal(payload, &kind); err != nil {
		return nil, fmt.Errorf("computelambda: decoding the event: %w", err)
	}
	switch {
	case kind.Version == "2.0" && kind.RequestContext.HTTP != nil:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("computelambda: decoding a payload 2.0 event: %w", err)
		}
		resp, err := l.v2.ProxyWithContext(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("computelambda: %w", err)
		}
		return json.Marshal(resp)
	case kind.HTTPMethod != "":
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("computelambda: decoding a payload 1.0 event: %w", err)
		}
		resp, err := l.v1.ProxyWithContext(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("computelambda: %w", err)
		}
		return json.Marshal(resp)
	case kind.Source == "aws.events" && kind.DetailType == "Scheduled Event" && l.scheduled != nil:
		if err := l.scheduled(ctx); err != nil {
			return nil, fmt.Errorf("computelambda: scheduled event: %w", err)
		}
		return []byte("null"), nil
	}
	return nil, ErrUnsupportedEvent
}
