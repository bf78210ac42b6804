// Package sessiontoken makes the random tokens the session stores hand out for
// reservations.
package sessiontoken

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random token: 16 bytes in hexadecimal.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
