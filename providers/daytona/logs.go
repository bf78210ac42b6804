package daytona

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/toolboxclient"
)

// sdkVersion is the Daytona SDK version whose toolbox API the provider
// implements (the vendor's toolbox spec it is generated from). It is sent
// as X-Daytona-SDK-Version on every toolbox call: the toolbox chooses the
// format of its answers by it, and answers a command's logs as JSON with
// stdout and stderr apart only from 0.167.0 on.
const sdkVersion = "0.190.0"

// readLogs reads a GetSessionCommandLogs answer (at most limit bytes) and
// closes it. The current answer is a JSON object with stdout and stderr
// apart. The legacy answer, for a client that sends no SDK version or one
// before 0.167.0, is the combined output: as text/plain from the daemon,
// and as a JSON string from some proxies; it is all taken as stdout.
func readLogs(resp *http.Response, limit int64) (string, string, error) {
	const op = "GetSessionCommandLogs"
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", "", classify.Call(op, err)
	}
	if int64(len(data)) > limit {
		return "", "", &computemw.Error{Code: computemw.CodeResource, Message: "daytona's answer is over the size limit", Err: fmt.Errorf("daytona %s: response over %d bytes", op, limit)}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		return string(data), "", nil
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var combined string
		if err := json.Unmarshal(trimmed, &combined); err != nil {
			return "", "", unexpected(op, err)
		}
		return combined, "", nil
	}
	var logs toolboxclient.SessionCommandLogsResponse
	if err := json.Unmarshal(data, &logs); err != nil {
		return "", "", unexpected(op, err)
	}
	return logs.Stdout, logs.Stderr, nil
}

func unexpected(op string, err error) error {
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "daytona answered something unexpected", Err: fmt.Errorf("daytona %s: %w", op, err)}
}
