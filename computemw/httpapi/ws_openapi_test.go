package httpapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document describes every field of the WebSocket messages,
// and every message type a client may send.
func TestOpenAPIDescribesWebSocketMessages(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	client := doc.Components.Schemas["WSClientMessage"].Properties
	server := doc.Components.Schemas["WSServerMessage"].Properties
	typ := reflect.TypeFor[WSMessage]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if _, ok := client[name]; ok {
			continue
		}
		if _, ok := server[name]; !ok {
			t.Errorf("field %q of WSMessage is in neither WSClientMessage nor WSServerMessage", name)
		}
	}
	for _, m := range []string{"create-sandbox", "execute", "stdin", "stdin-end", "terminal-start", "terminal-input", "terminal-resize", "destroy-sandbox"} {
		if !slices.Contains(client["type"].Enum, m) {
			t.Errorf("WSClientMessage.type lacks %q", m)
		}
	}
	for _, m := range []string{"sandbox-ready", "output", "execution-complete", "terminal-output", "terminal-exit", "error"} {
		if !slices.Contains(server["type"].Enum, m) {
			t.Errorf("WSServerMessage.type lacks %q", m)
		}
	}
}
