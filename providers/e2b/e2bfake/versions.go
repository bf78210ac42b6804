package e2bfake

// DefaultEnvdVersion is the envd version a fake sandbox advertises unless
// SetEnvdVersion says otherwise: one that has every feature the provider
// uses.
const DefaultEnvdVersion = "0.5.7"

// SetEnvdVersion sets the envdVersion that sandboxes made from now on
// advertise (in the create, connect and get answers).
func (f *Fake) SetEnvdVersion(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envdVersion = v
}
