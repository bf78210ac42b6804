package auth

import (
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/computemw/kit/computemw"
)

// Why a credential was refused: the "reason" in a 401's details. They say
// which check failed, never what the server holds (keys, secrets).
const (
	reasonMalformed      = "malformed"
	reasonExpired        = "expired"
	reasonNotYetValid    = "not_yet_valid"
	reasonIssuedInFuture = "issued_in_future"
	reasonWrongAudience  = "wrong_audience"
	reasonWrongIssuer    = "wrong_issuer"
	reasonMissingClaim   = "missing_claim"
	reasonUnknownKey     = "unknown_key"
	reasonBadSignature   = "bad_signature"
	reasonAlgorithm      = "algorithm_not_allowed"
	reasonClaimsRefused  = "claims_refused"
	reasonUnknownAPIKey  = "unknown_api_key"
	reasonNoAPIKeys      = "api_keys_not_configured"
)

// tokenReason names the check a token failed, from the JWT library's
// error classes; the first that applies wins.
func tokenReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reasonMalformed
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reasonIssuedInFuture
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reasonWrongAudience
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return reasonWrongIssuer
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return reasonMissingClaim
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The key function found no key for the token's kid and algorithm.
		return reasonUnknownKey
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// The library reports an algorithm outside the allow-list in the
		// same class as a signature that does not verify.
		if strings.Contains(err.Error(), "signing method") {
			return reasonAlgorithm
		}
		return reasonBadSignature
	}
	return reasonClaimsRefused
}

// errInvalidToken is the 401 for any token that does not verify: the
// message is the same for all, the reason is in details, the cause is
// kept hidden for the log.
func errInvalidToken(reason string, cause error) error {
	return &computemw.Error{Code: computemw.CodeUnauthorized, Message: "invalid token",
		Details: map[string]string{"reason": reason}, Err: cause}
}

// errInvalidAPIKey is the 401 for an API key that is not one of the
// server's, or sent to a server that takes none.
func errInvalidAPIKey(reason string) error {
	return &computemw.Error{Code: computemw.CodeUnauthorized, Message: "invalid API key",
		Details: map[string]string{"reason": reason}}
}
