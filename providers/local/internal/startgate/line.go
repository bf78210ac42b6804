//go:build linux

package startgate

import "slices"

// line is the gate's waiting line, fair between callers: callers take
// turns, one start each; within a caller, its sessions take turns; within
// a session, waiters start in order of arrival. A caller that arrives with
// nothing in the gate goes ahead of the callers whose turns come round
// again (after the others that arrived so): a caller with hundreds
// waiting delays another's single execution by no start of its own, only
// by the slot it waits for.
type line struct {
	callers  []string            // callers with waiters, the next to start first
	fresh    int                 // callers[:fresh] arrived with nothing in the gate and had no start yet
	sessions map[string][]string // each caller's sessions with waiters, likewise
	waiters  map[turn][]chan struct{}
	n        int
}

// turn names one session's waiters.
type turn struct{ caller, session string }

// push queues a waiter at the end of its session's waiters; fresh: its
// caller has nothing else in the gate.
func (l *line) push(caller, session string, ch chan struct{}, fresh bool) {
	if l.waiters == nil {
		l.sessions = make(map[string][]string)
		l.waiters = make(map[turn][]chan struct{})
	}
	t := turn{caller, session}
	if len(l.waiters[t]) == 0 {
		if len(l.sessions[caller]) == 0 {
			if fresh {
				l.callers = slices.Insert(l.callers, l.fresh, caller)
				l.fresh++
			} else {
				l.callers = append(l.callers, caller)
			}
		}
		l.sessions[caller] = append(l.sessions[caller], session)
	}
	l.waiters[t] = append(l.waiters[t], ch)
	l.n++
}

// pop takes the next waiter: the first of the next session of the next
// caller, who then go to the end of their turns. l must not be empty.
func (l *line) pop() chan struct{} {
	caller := l.callers[0]
	session := l.sessions[caller][0]
	t := turn{caller, session}
	ch := l.waiters[t][0]
	l.waiters[t] = l.waiters[t][1:]
	l.n--
	l.sessions[caller] = l.sessions[caller][1:]
	if len(l.waiters[t]) > 0 {
		l.sessions[caller] = append(l.sessions[caller], session)
	} else {
		delete(l.waiters, t)
	}
	l.callers = l.callers[1:]
	if l.fresh > 0 {
		l.fresh--
	}
	if len(l.sessions[caller]) > 0 {
		l.callers = append(l.callers, caller)
	} else {
		delete(l.sessions, caller)
	}
	return ch
}

// remove takes a waiter out of the line (its wait ended); false when it
// is no longer there (it was let in meanwhile).
func (l *line) remove(caller, session string, ch chan struct{}) bool {
	t := turn{caller, session}
	i := slices.Index(l.waiters[t], ch)
	if i < 0 {
		return false
	}
	l.waiters[t] = slices.Delete(l.waiters[t], i, i+1)
	l.n--
	if len(l.waiters[t]) > 0 {
		return true
	}
	delete(l.waiters, t)
	l.sessions[caller] = slices.DeleteFunc(l.sessions[caller], func(s string) bool { return s == session })
	if len(l.sessions[caller]) == 0 {
		delete(l.sessions, caller)
		if i := slices.Index(l.callers, caller); i >= 0 {
			l.callers = slices.Delete(l.callers, i, i+1)
			if i < l.fresh {
				l.fresh--
			}
		}
	}
	return true
}
