package cloudflarefake

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/computemw/kit/providers/cloudflare/internal/spec"
	"github.com/computemw/kit/providers/internal/openapicheck"
)

var (
	specOnce sync.Once
	specDoc  *openapicheck.Spec
	specErr  error
)

// loadSpec loads the bridge's document once, made strict.
func loadSpec() (*openapicheck.Spec, error) {
	specOnce.Do(func() { specDoc, specErr = openapicheck.Load(spec.Bridge, openapicheck.ByOperationID) })
	return specDoc, specErr
}

// specPath is the path to match against the document. The document's
// {path} parameter of /v1/sandbox/{id}/file/{path} stands for the rest of
// the path (the bridge's route is file/*): its slashes are escaped so that
// it matches as one parameter.
func specPath(p string) string {
	const marker = "/file/"
	if strings.HasPrefix(p, "/v1/sandbox/") {
		if i := strings.Index(p, marker); i >= 0 {
			return p[:i+len(marker)] + strings.ReplaceAll(p[i+len(marker):], "/", "%2F")
		}
	}
	return p
}

// checkAnswer validates an answer to a matched request against what the
// operation declares: JSON bodies by their schema (made strict), an event
// stream event by event (execCommand's description), a WebSocket by its
// 101.
func checkAnswer(m *openapicheck.Match, status int, header http.Header, body []byte, complete bool) error {
	declared := m.Declared(status)
	if declared == nil {
		return fmt.Errorf("%s: answered %d, which the document does not declare", m.Op, status)
	}
	ct := header.Get("Content-Type")
	switch {
	case status == http.StatusSwitchingProtocols:
		return nil
	case strings.HasPrefix(ct, "text/event-stream"):
		if declared.Content.Get("text/event-stream") == nil {
			return fmt.Errorf("%s: answered an event stream, which the document does not declare", m.Op)
		}
		if !complete {
			return nil
		}
		return checkEvents(m.Op, body)
	}
	return m.CheckAnswer(status, header, body, complete)
}

// checkEvents checks an exec stream against execCommand's description:
// stdout and stderr events of base64, ended by one exit event
// ({"exit_code": N}) or one error event ({"error","code"} of the
// ErrorResponse schema).
func checkEvents(op string, body []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	var data []string
	ended := false
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "event":
				event = value
			case "data":
				data = append(data, value)
			default:
				return fmt.Errorf("%s: event stream line %q", op, line)
			}
			continue
		}
		if ended {
			return fmt.Errorf("%s: an event after the stream's end", op)
		}
		d := strings.Join(data, "\n")
		switch event {
		case "stdout", "stderr":
			if _, err := base64.StdEncoding.DecodeString(d); err != nil {
				return fmt.Errorf("%s: a %s event is not base64", op, event)
			}
		case "exit":
			var ev map[string]any
			if json.Unmarshal([]byte(d), &ev) != nil || len(ev) != 1 {
				return fmt.Errorf("%s: exit event %q", op, d)
			}
			if _, ok := ev["exit_code"].(float64); !ok {
				return fmt.Errorf("%s: exit event %q has no exit_code", op, d)
			}
			ended = true
		case "error":
			if err := errorShape(op, []byte(d)); err != nil {
				return err
			}
			ended = true
		default:
			return fmt.Errorf("%s: unknown event %q", op, event)
		}
		event, data = "", nil
	}
	if !ended {
		return fmt.Errorf("%s: the event stream has no exit or error event", op)
	}
	return nil
}

// errorShape checks an error body against the document's ErrorResponse.
func errorShape(op string, body []byte) error {
	doc, _ := loadSpec()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%s: error body is not JSON: %v", op, err)
	}
	if err := doc.Doc.Components.Schemas["ErrorResponse"].Value.VisitJSON(m); err != nil {
		return fmt.Errorf("%s: error body: %s", op, openapicheck.OneLine(err))
	}
	return nil
}

// faultShape checks the answer of an injected fault: the bridge's error
// shape, or the text of Cloudflare's edge.
func faultShape(op string, status int, header http.Header, body []byte) error {
	if strings.HasPrefix(header.Get("Content-Type"), "text/plain") {
		if !strings.HasPrefix(string(body), "error code: ") {
			return fmt.Errorf("%s: edge answer %d: %q", op, status, body)
		}
		return nil
	}
	return errorShape(op, body)
}

// noAuth lists the operations the bridge serves without a key.
var noAuth = []string{"healthCheck"}

func needsAuth(op string) bool { return !slices.Contains(noAuth, op) }
