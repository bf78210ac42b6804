package cloudflare

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxEventBytes caps one event of an exec stream (its data lines
// together); the bridge sends output in chunks far smaller.
const maxEventBytes = 8 << 20

// errNoExit is the end of an exec stream that had neither an exit nor an
// error event: the connection was lost.
var errNoExit = errors.New("the event stream ended without an exit event")

// readEvents reads the bridge's exec stream (text/event-stream): stdout and
// stderr events carry base64 chunks of output, written to stdout and
// stderr as they come; an exit event ({"exit_code":N}) ends it with the
// command's exit code; an error event ({"error","code"}) ends it with an
// [*EventError]. Comments, ids and unknown events are skipped.
func readEvents(r io.Reader, stdout, stderr io.Writer) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		event string
		data  bytes.Buffer
		lines int
	)
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, errNoExit
			}
			return 0, err
		}
		if len(line) > 0 {
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if lines > 0 {
					data.WriteByte('\n')
				}
				if data.Len()+len(value) > maxEventBytes {
					return 0, fmt.Errorf("an event of the exec stream is larger than %d bytes", maxEventBytes)
				}
				data.Write(value)
				lines++
			}
			continue
		}
		// A blank line dispatches the event.
		if lines > 0 || event != "" {
			code, done, err := dispatch(event, data.Bytes(), stdout, stderr)
			if err != nil || done {
				return code, err
			}
		}
		event, lines = "", 0
		data.Reset()
	}
}

// dispatch handles one event; done reports the end of the stream.
func dispatch(event string, data []byte, stdout, stderr io.Writer) (code int, done bool, err error) {
	switch event {
	case "stdout", "stderr":
		chunk, err := base64.StdEncoding.DecodeString(string(data))
		if err != nil {
			return 0, true, fmt.Errorf("a %s event is not base64: %w", event, err)
		}
		w := stdout
		if event == "stderr" {
			w = stderr
		}
		_, _ = w.Write(chunk)
	case "exit":
		var ev struct {
			ExitCode *int `json:"exit_code"`
		}
		if err := json.Unmarshal(data, &ev); err != nil || ev.ExitCode == nil {
			return 0, true, fmt.Errorf("an exit event without an exit code: %q", truncate(string(data), 100))
		}
		return *ev.ExitCode, true, nil
	case "error":
		var be bridgeError
		if err := json.Unmarshal(data, &be); err != nil {
			be.Error = string(data)
		}
		return 0, true, &EventError{Message: truncate(be.Error, 2000), Code: be.Code}
	}
	return 0, false, nil
}

// readLine reads one line (without its end: LF, CR LF or CR) of at most
// maxEventBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxEventBytes+64 {
			return nil, fmt.Errorf("a line of the exec stream is longer than %d bytes", maxEventBytes)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		return bytes.TrimSuffix(line, []byte("\r")), nil
	}
}
