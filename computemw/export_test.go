package computemw

// ProviderHealthy reports whether the strategy currently uses the named
// provider (for tests of the strategy's health marking).
func (k *Kit) ProviderHealthy(name string) bool { return k.providerHealthy(name) }

// MemorySessionStore is the in-memory SessionStore, for the session-store
// suite and the scale-out tests of one process.
type MemorySessionStore = memorySessionStore

// WithRemoteAddr is withRemoteAddr, for the client-address tests.
var WithRemoteAddr = withRemoteAddr

// ValidateArgs is validateArgs, for the tests of the arguments' bounds.
var ValidateArgs = validateArgs
