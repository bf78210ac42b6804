package computemw

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// FileWriter is implemented by sandboxes that can write a file from a
// stream: [Kit.Files] uses it for a "write" with [FileOp].Reader (a raw
// upload or a multipart part), so that a large upload never sits whole in
// the server's memory. Without it the kit reads the stream, up to
// Config.MaxUploadBytes, and calls WriteFile.
type FileWriter interface {
	// WriteFileFrom creates or replaces a file with what r yields, creating
	// parent directories, and returns how many bytes it wrote. On an error
	// (r's included) it leaves no partial file behind.
	WriteFileFrom(ctx context.Context, path string, r io.Reader) (int64, error)
}

// errUploadTooLarge is the error of a stream that passed the limit.
type errUploadTooLarge struct{ limit int64 }

func (e errUploadTooLarge) Error() string {
	return fmt.Sprintf("the upload is larger than %d bytes", e.limit)
}

// capReader yields r's bytes up to limit, then fails with
// errUploadTooLarge when there is more.
type capReader struct {
	r     io.Reader
	left  int64
	limit int64
	// failed is r's own error other than io.EOF (a client gone mid-upload).
	failed error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a stream of exactly limit bytes from a
		// longer one.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errUploadTooLarge{c.limit}
		}
		return 0, c.note(err)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, c.note(err)
}

func (c *capReader) note(err error) error {
	if err != nil && err != io.EOF && c.failed == nil {
		c.failed = err
	}
	return err
}

// writeFrom writes a file from a stream, capped at Config.MaxUploadBytes.
func (k *Kit) writeFrom(ctx context.Context, sb Sandbox, path string, r io.Reader) (int64, error) {
	limit := k.cfg.MaxUploadBytes
	cr := &capReader{r: r, left: limit, limit: limit}
	var (
		n   int64
		err error
	)
	if fw, ok := sb.(FileWriter); ok {
		n, err = fw.WriteFileFrom(ctx, path, cr)
	} else {
		var b []byte
		b, err = io.ReadAll(cr)
		if err == nil {
			n, err = int64(len(b)), sb.WriteFile(ctx, path, b)
		}
	}
	var big errUploadTooLarge
	switch {
	case err == nil:
		return n, nil
	case errors.As(err, &big):
		return 0, &Error{Code: CodePayloadTooLarge, Message: big.Error(), Details: map[string]any{"limit": limit}}
	case cr.failed != nil && errors.Is(err, cr.failed):
		return 0, &Error{Code: CodeBadRequest, Message: "reading the upload failed", Err: err}
	}
	return 0, err
}
