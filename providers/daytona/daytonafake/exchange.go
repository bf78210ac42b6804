package daytonafake

import "github.com/computemw/kit/providers/internal/fakekit"

// Exchange is one request the fake answered, as recorded for the check
// against the vendor's API description.
type Exchange = fakekit.Exchange

// Exchanges returns every exchange so far, in the order answered.
func (s *Server) Exchanges() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exchange(nil), s.exchanges...)
}
