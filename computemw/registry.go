package computemw

import (
	"fmt"
	"sort"
	"sync"
)

// registry holds providers by name. The zero value is empty and ready.
type registry struct {
	mu        sync.RWMutex
	providers map[string]Provider
}

// Register adds p under p.Name(). Registering a name twice is an error.
func (r *registry) Register(p Provider) error {
	if p == nil {
		return fmt.Errorf("computemw: register: nil provider")
	}
	name := p.Name()
	if name == "" {
		return fmt.Errorf("computemw: register: provider has an empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.providers == nil {
		r.providers = make(map[string]Provider)
	}
	if _, dup := r.providers[name]; dup {
		return fmt.Errorf("computemw: register: provider %q already registered", name)
	}
	r.providers[name] = p
	return nil
}

// Get returns the provider registered under name.
func (r *registry) Get(name string) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[name]
	return p, ok
}

// Names returns the registered names in sorted order.
func (r *registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.providers))
	for n := range r.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
