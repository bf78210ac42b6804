//go:build js && wasm

package cfworker

import (
	"errors"
	"syscall/js"
)

// await blocks the calling goroutine until the JavaScript promise p
// settles, and returns its value or its rejection as an error. Other
// goroutines run meanwhile.
func await(p js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- settled{v: v}
		return nil
	})
	defer ok.Release()
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		reason := js.Undefined()
		if len(args) > 0 {
			reason = args[0]
		}
		ch <- settled{err: jsError(reason)}
		return nil
	})
	defer fail.Release()
	p.Call("then", ok, fail)
	s := <-ch
	return s.v, s.err
}

// jsError is a JavaScript exception or rejection reason as a Go error.
func jsError(reason js.Value) error {
	if reason.Type() == js.TypeObject {
		if msg := reason.Get("message"); msg.Type() == js.TypeString {
			name := reason.Get("name")
			if name.Type() == js.TypeString && name.String() != "" && name.String() != "Error" {
				return errors.New(name.String() + ": " + msg.String())
			}
			return errors.New(msg.String())
		}
	}
	return errors.New(reason.Call("toString").String())
}
