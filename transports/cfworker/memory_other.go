//go:build !(js && wasm)

package cfworker

import "sync"

// processMemory stands in for the isolate's memory outside a Worker: the
// process's.
type processMemory struct {
	mu sync.Mutex
	m  map[string]string
}

var theProcessMemory = &processMemory{m: map[string]string{}}

func newIsolateMemory() memory { return theProcessMemory }

func (s *processMemory) get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok
}

func (s *processMemory) set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = value
}

func (s *processMemory) del(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

func (s *processMemory) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.m))
	for k := range s.m {
		out = append(out, k)
	}
	return out
}

func (s *processMemory) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
