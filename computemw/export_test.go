package computemw

// ProviderHealthy reports whether the strategy currently uses the named
// provider (for tests of the strategy's health marking).
func (k *Kit) ProviderHealthy(name string) bool { return k.providerHealthy(name) }
