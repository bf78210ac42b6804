package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/computemw/kit/computemw"
)

// HashAPIKey returns the hex SHA-256 of an API key: the form in which
// Config.APIKeys holds keys, so that a leaked configuration or
// database does not leak the keys themselves. API keys must be random and
// long (32 bytes from crypto/rand, say): a plain hash is only safe for keys
// that cannot be guessed.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// apiKeys maps the SHA-256 of each API key to its principal.
type apiKeys map[[sha256.Size]byte]apiKey

type apiKey struct {
	hash      [sha256.Size]byte
	principal computemw.Principal
}

func newAPIKeys(hashed map[string]computemw.Principal) (apiKeys, error) {
	if len(hashed) == 0 {
		return nil, nil
	}
	keys := make(apiKeys, len(hashed))
	for h, p := range hashed {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("API key hash %.12q... is not a hex SHA-256 (use auth.HashAPIKey)", h)
		}
		if p.ID == "" {
			return nil, fmt.Errorf("API key %.12s...: principal has no ID", h)
		}
		keys[[sha256.Size]byte(b)] = apiKey{hash: [sha256.Size]byte(b), principal: p}
	}
	return keys, nil
}

// lookup returns the principal of key. The map is indexed by the key's
// hash, which reveals nothing about the keys held; the final comparison is
// constant-time all the same.
func (k apiKeys) lookup(key string) (computemw.Principal, error) {
	sum := sha256.Sum256([]byte(key))
	e, ok := k[sum]
	if !ok || subtle.ConstantTimeCompare(e.hash[:], sum[:]) != 1 {
		return computemw.Principal{}, errInvalidAPIKey(reasonUnknownAPIKey)
	}
	return e.principal, nil
}
