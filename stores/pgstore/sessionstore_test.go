package pgstore_test

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/scaleouttest"
	"github.com/computemw/kit/stores/pgstore"
)

func openSessions(t *testing.T, ns string) computemw.SessionStore {
	s, err := pgstore.NewSessionStore(context.Background(), pool(t, ns), pgstore.SessionOptions{Table: ns + ".sessions"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionStore(t *testing.T) { computemwtest.SessionStoreSuite(t, openSessions) }

// Two kit instances on one database and one Daytona serve each other's
// sessions and hold the session limits together.
func TestScaleOut(t *testing.T) { scaleouttest.Run(t, openSessions) }

func TestSessionTableName(t *testing.T) {
	for _, bad := range []string{"a.b.c", "x;drop", "1abc"} {
		if _, err := pgstore.NewSessionStore(context.Background(), nil, pgstore.SessionOptions{Table: bad}); err == nil {
			t.Errorf("table %q was accepted", bad)
		}
	}
}
