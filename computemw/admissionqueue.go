package computemw

import "slices"

// admissionQueue holds the sandbox creations waiting for a slot of
// Config.MaxSandboxes, fair between callers: the callers with creations
// waiting (by owner key, Kit.owner) take turns, one slot each, and a
// caller's creations are served in order of arrival. A caller with
// hundreds waiting delays another's first by at most one slot.
type admissionQueue struct {
	owners  []string // callers with creations waiting, the next served first
	waiting map[string][]*waiter
	n       int
}

// push queues w at the end of its caller's creations.
func (q *admissionQueue) push(w *waiter) {
	if q.waiting == nil {
		q.waiting = make(map[string][]*waiter)
	}
	if len(q.waiting[w.owner]) == 0 {
		q.owners = append(q.owners, w.owner)
	}
	q.waiting[w.owner] = append(q.waiting[w.owner], w)
	q.n++
}

// pop takes the next caller's oldest creation; that caller goes to the end
// of the turns. q must not be empty.
func (q *admissionQueue) pop() *waiter {
	owner := q.owners[0]
	q.owners = q.owners[1:]
	w := q.waiting[owner][0]
	q.waiting[owner] = q.waiting[owner][1:]
	q.n--
	if len(q.waiting[owner]) > 0 {
		q.owners = append(q.owners, owner)
	} else {
		delete(q.waiting, owner)
	}
	return w
}

// remove takes w out of the queue, if it is there.
func (q *admissionQueue) remove(w *waiter) {
	i := slices.Index(q.waiting[w.owner], w)
	if i < 0 {
		return
	}
	q.waiting[w.owner] = slices.Delete(q.waiting[w.owner], i, i+1)
	q.n--
	if len(q.waiting[w.owner]) == 0 {
		delete(q.waiting, w.owner)
		q.owners = slices.DeleteFunc(q.owners, func(o string) bool { return o == w.owner })
	}
}

// bump makes room for owner's creation in a full queue: it takes out and
// returns the newest creation of the caller with the most waiting, when
// that caller has at least two more waiting than owner; else nil.
func (q *admissionQueue) bump(owner string) *waiter {
	var most []*waiter
	for _, o := range q.owners {
		if ws := q.waiting[o]; len(ws) > len(most) {
			most = ws
		}
	}
	if len(most) < len(q.waiting[owner])+2 {
		return nil
	}
	w := most[len(most)-1]
	q.remove(w)
	return w
}

// clear empties the queue and returns what it held.
func (q *admissionQueue) clear() []*waiter {
	var all []*waiter
	for _, ws := range q.waiting {
		all = append(all, ws...)
	}
	*q = admissionQueue{}
	return all
}
