// Package initproto holds the protocol between the provider and a
// sandbox's init: its messages, and the connection that carries them with
// the descriptors they pass.
package initproto

// DefaultPath is the PATH the init searches for a program whose
// environment names none. The provider gives every sandboxed process
// this PATH unless a client sets another.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
