package vercel

import (
	"encoding/json"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// classify turns Vercel's failed calls into kit errors whose messages
// name Vercel (see vendorhttp.Classifier for the table of statuses).
var classify = vendorhttp.Classifier{Vendor: "vercel", Message: vendorMessage}

// vendorMessage extracts the code and message of the vendor's error body,
// {"error":{"code","message"}}, for the log.
func vendorMessage(body []byte) string {
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && (v.Error.Code != "" || v.Error.Message != "") {
		return v.Error.Code + ": " + v.Error.Message
	}
	return string(body)
}
