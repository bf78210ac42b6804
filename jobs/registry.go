package jobs

import (
	"sync"

	"github.com/computemw/kit/computemw"
)

// services are the started services by kit, for the route group.
var services sync.Map // *computemw.Kit → *Service

// For returns the service started for kit, or nil: the route group
// (package httpapi) answers the job routes with it.
func For(kit *computemw.Kit) *Service {
	s, _ := services.Load(kit)
	svc, _ := s.(*Service)
	return svc
}
