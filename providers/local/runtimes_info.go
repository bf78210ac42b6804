package local

import (
	"path/filepath"
	"time"
)

// TemplateInfo describes one of the provider's templates (Config.Templates):
// a root filesystem that sandboxes run on instead of the host's system
// directories.
type TemplateInfo struct {
	// Name is what CreateOptions.Template (and a session's or WebSocket's
	// "template") names it by.
	Name string `json:"name"`
	// Root is the directory on the host.
	Root string `json:"root"`
	// Default reports that sandboxes that name no template get it.
	Default bool `json:"default"`
	// Languages are the names and aliases of the runtimes whose tools the
	// template has.
	Languages []string `json:"languages"`
	// Packages lists the template's packages ("name version"), when it
	// was built by scripts/build-template.sh.
	Packages []string `json:"packages,omitempty"`
}

// setCompileDefaults gives the compile and build cache settings their
// defaults.
func (c *Config) setCompileDefaults() {
	if c.CompileTimeout <= 0 {
		c.CompileTimeout = 60 * time.Second
	}
	if c.CompileMemoryMB <= 0 {
		c.CompileMemoryMB = 1024
	}
	if c.BuildCacheDir == "" {
		c.BuildCacheDir = filepath.Join(c.BaseDir, "buildcache")
	}
	if c.BuildCacheMB <= 0 {
		c.BuildCacheMB = 1024
	}
}

// RuntimeInfo describes one entry of the provider's runtime table, for a
// languages listing.
type RuntimeInfo struct {
	// Name and Aliases are the names clients may use.
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	// Release is the version a request names this entry by
	// (Runtime.Release), when the language has several.
	Release string `json:"release,omitempty"`
	// Compiled reports a compile step (Runtime.Compile).
	Compiled bool `json:"compiled"`
	// Available reports that its tool is on the host; Reason says why
	// not (for the language's entries, when none is available).
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
}
