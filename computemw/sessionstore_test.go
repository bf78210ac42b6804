package computemw_test

import (
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

func TestMemorySessionStore(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*computemw.MemorySessionStore{}
	computemwtest.SessionStoreSuite(t, func(t *testing.T, ns string) computemw.SessionStore {
		mu.Lock()
		defer mu.Unlock()
		if stores[ns] == nil {
			stores[ns] = &computemw.MemorySessionStore{}
		}
		return stores[ns]
	})
}
