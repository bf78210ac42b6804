package daytona

import (
	"encoding/json"
	"fmt"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// classify turns Daytona's failed calls into kit errors whose messages
// name Daytona (see vendorhttp.Classifier for the table of statuses).
var classify = vendorhttp.Classifier{Vendor: "daytona", Message: vendorMessage}

// vendorMessage extracts a message from an error body for the log.
func vendorMessage(body []byte) string {
	var v struct {
		Message any    `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		if v.Message != nil {
			return fmt.Sprint(v.Message)
		}
		if v.Error != "" {
			return v.Error
		}
	}
	return string(body)
}
