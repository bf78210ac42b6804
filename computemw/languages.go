package computemw

import (
	"context"
	"slices"
	"sync"
	"time"
)

// OpLanguages is GET /languages: the runtimes each provider offers. It is a
// read: a policy that lets a caller in at all lets it list them (RBAC asks
// for no permission beyond a known role).
const OpLanguages Op = "languages"

// Runtime is one language runtime a provider offers, as GET /languages
// reports it.
type Runtime struct {
	// Name is the language's canonical name ("python"), the one to send as
	// "language".
	Name string `json:"name"`
	// Aliases are other names the provider accepts for it ("py").
	Aliases []string `json:"aliases"`
	// Version is what the runtime says its version is ("Python 3.11.2"),
	// or "" when it does not say.
	Version string `json:"version"`
	// Extension is the extension of a program file, with the dot (".py").
	Extension string `json:"extension"`
	// Compiled reports that a program is compiled before it runs.
	Compiled bool `json:"compiled"`
	// Versions, when the provider has several of the language, are those
	// a request may name as its "version", the default first; Version is
	// the default's.
	Versions []string `json:"versions,omitempty"`
	// CompileOptions are the compiler flags a request may add.
	CompileOptions []string `json:"compileOptions,omitempty"`
}

// runtimesTimeout bounds one provider's Runtimes call.
const runtimesTimeout = 30 * time.Second

// runtimeCache keeps each provider's runtimes once listed. Its zero value
// is ready.
type runtimeCache struct {
	mu      sync.Mutex
	entries map[string]*runtimeEntry
}

type runtimeEntry struct {
	turn     chan struct{} // a one-slot semaphore: one listing at a time
	runtimes []Runtime     // set once listed
}

func (c *runtimeCache) entry(name string) *runtimeEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]*runtimeEntry)
	}
	e, ok := c.entries[name]
	if !ok {
		e = &runtimeEntry{turn: make(chan struct{}, 1)}
		c.entries[name] = e
	}
	return e
}

// Runtimes returns the runtimes of the named provider ("" is the default
// provider): its [LanguageLister]'s Runtimes, listed once and kept; when
// that is nil, one entry per language name; for a provider that says
// nothing, none. Concurrent first calls wait for one
// listing, within ctx.
func (k *Kit) Runtimes(ctx context.Context, provider string) ([]Runtime, error) {
	p, err := k.provider(provider)
	if err != nil {
		return nil, err
	}
	rl, ok := p.(LanguageLister)
	if !ok {
		return []Runtime{}, nil
	}
	e := k.runtimes.entry(p.Name())
	select {
	case e.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.turn }()
	if e.runtimes != nil {
		return e.runtimes, nil
	}
	lctx, cancel := context.WithTimeout(ctx, runtimesTimeout)
	defer cancel()
	rts, err := rl.Runtimes(lctx)
	if err != nil {
		return nil, err
	}
	if rts == nil {
		return namedRuntimes(p), nil
	}
	rts = slices.Clone(rts)
	for i := range rts {
		if rts[i].Aliases == nil {
			rts[i].Aliases = []string{}
		}
	}
	if rts == nil {
		rts = []Runtime{}
	}
	e.runtimes = rts
	return rts, nil
}

// namedRuntimes describes a provider's languages by name alone.
func namedRuntimes(p Provider) []Runtime {
	out := []Runtime{}
	if ll, ok := p.(LanguageLister); ok {
		for _, n := range ll.Languages() {
			out = append(out, Runtime{Name: n, Aliases: []string{}})
		}
	}
	return out
}
