// Command mint prints an HS256 token that the secure example accepts,
// signed with COMPUTEMW_JWT_SECRET (or the example's development secret,
// as the server uses when that variable is not set).
//
//	TOKEN=$(go run ./examples/secure/mint -sub alice -role user -plan pro)
//	curl -s localhost:8080/api/usage -H "Authorization: Bearer $TOKEN"
//
// Roles are the kit's defaults (admin, developer, user, viewer); plans are
// free, pro and enterprise.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The token contract of the secure example.
const (
	issuer    = "computemw-example"
	audience  = "computemw"
	devSecret = "computemw-development-secret-do-not-use-in-production"
)

func main() {
	sub := flag.String("sub", "alice", "the caller's ID (the token's subject)")
	role := flag.String("role", "user", "the caller's role: admin, developer, user or viewer")
	plan := flag.String("plan", "free", "the caller's plan: free, pro or enterprise")
	ttl := flag.Duration("ttl", time.Hour, "how long the token is valid")
	flag.Parse()

	secret := os.Getenv("COMPUTEMW_JWT_SECRET")
	if secret == "" {
		secret = devSecret
		fmt.Fprintln(os.Stderr, "mint: COMPUTEMW_JWT_SECRET is not set; signing with the development secret")
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": *sub, "role": *role, "plan": *plan,
		"iss": issuer, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(*ttl).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
	fmt.Println(tok)
}
