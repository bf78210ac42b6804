package jobs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Webhook headers. SignatureHeader is "t=<unix seconds>,v1=<hex>", where
// the hex is HMAC-SHA256, keyed with the webhook secret, of the decimal
// timestamp, a dot, and the raw body: a receiver recomputes it with
// [VerifySignature] and refuses a stale timestamp, so that a captured
// callback cannot be replayed later.
const (
	SignatureHeader = "Computemw-Signature"
	// WebhookIDHeader is the job's ID: a receiver that got the same ID
	// twice (a retry after a lost answer) can drop the second.
	WebhookIDHeader = "Computemw-Webhook-Id"
)

// ErrBadSignature is a webhook whose signature does not verify.
var ErrBadSignature = errors.New("jobs: webhook signature does not verify")

// Sign returns the SignatureHeader value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a webhook: header is its SignatureHeader, body
// the raw body as received. It refuses (with an error wrapping
// [ErrBadSignature]) a malformed header, a wrong signature, or a
// timestamp further than tolerance from now (tolerance <= 0 is 5
// minutes).
func VerifySignature(secret []byte, header string, body []byte, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.Join(ErrBadSignature, errors.New("malformed signature header"))
	}
	if d := time.Since(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.Join(ErrBadSignature, errors.New("timestamp outside the tolerance"))
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
