//go:build js && wasm

package cfworker

import "syscall/js"

// isolateGlobal names the JavaScript Map, kept on the isolate's global
// object, that holds what the counting stores keep across Go instances.
const isolateGlobal = "__computemwIsolateMemory"

// isolateMemory is a string map in the isolate's JavaScript memory: every
// Go instance the isolate runs sees the same one. Its operations are
// synchronous calls, which no other Go instance can interleave with (an
// isolate runs one piece of JavaScript at a time).
type isolateMemory struct{ m js.Value }

func newIsolateMemory() memory {
	g := js.Global()
	m := g.Get(isolateGlobal)
	if m.Type() != js.TypeObject {
		m = g.Get("Map").New()
		g.Set(isolateGlobal, m)
	}
	return isolateMemory{m: m}
}

func (s isolateMemory) get(key string) (string, bool) {
	v := s.m.Call("get", key)
	if v.Type() != js.TypeString {
		return "", false
	}
	return v.String(), true
}

func (s isolateMemory) set(key, value string) { s.m.Call("set", key, value) }

func (s isolateMemory) del(key string) { s.m.Call("delete", key) }

func (s isolateMemory) keys() []string {
	var out []string
	each := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) >= 2 {
			out = append(out, args[1].String())
		}
		return nil
	})
	defer each.Release()
	s.m.Call("forEach", each)
	return out
}

func (s isolateMemory) size() int { return s.m.Get("size").Int() }
