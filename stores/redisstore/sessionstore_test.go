package redisstore_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/scaleouttest"
	"github.com/computemw/kit/stores/redisstore"
)

func openSessions(t *testing.T, ns string) computemw.SessionStore {
	return redisstore.NewSessionStore(client(t, ns), ns)
}

func TestSessionStore(t *testing.T) { computemwtest.SessionStoreSuite(t, openSessions) }

// Two kit instances on one Redis and one Daytona serve each other's
// sessions and hold the session limits together.
func TestScaleOut(t *testing.T) { scaleouttest.Run(t, openSessions) }
