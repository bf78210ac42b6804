package local

import (
	"fmt"
	"slices"
	"strings"

	"github.com/computemw/kit/computemw"
)

// addRelease records rt among the entries of its name: entries that share
// a name each need a Release of their own.
func (t *runtimeTable) addRelease(rt *Runtime) error {
	prev := t.releases[rt.Name]
	if len(prev) > 0 {
		if rt.Release == "" || prev[0].Release == "" {
			return fmt.Errorf("local: runtime name %q is used twice (entries that share a name need a Release each)", rt.Name)
		}
		for _, p := range prev {
			if p.Release == rt.Release {
				return fmt.Errorf("local: runtime %q: release %q is listed twice", rt.Name, rt.Release)
			}
		}
	}
	t.releases[rt.Name] = append(prev, rt)
	return nil
}

// pick returns the entry of rt's name a request's version names: the
// first available entry for "", else the one whose Release it is. A
// version not installed is a 400 listing those that are.
func (t *runtimeTable) pick(rt *Runtime, version string) (*Runtime, error) {
	entries := t.releases[rt.Name]
	if version == "" {
		for _, e := range entries {
			if t.found[e] {
				return e, nil
			}
		}
		return rt, nil
	}
	installed := t.installedReleases(rt.Name)
	for _, e := range entries {
		if e.Release == version && t.found[e] {
			return e, nil
		}
	}
	return nil, &computemw.Error{
		Code:    computemw.CodeBadRequest,
		Message: fmt.Sprintf("version %q of %s is not installed (installed: %s)", version, rt.Name, releaseList(installed)),
		Details: map[string]any{"versions": installed},
	}
}

// installedReleases lists the Releases of name's available entries, the
// default first.
func (t *runtimeTable) installedReleases(name string) []string {
	out := []string{}
	for _, e := range t.releases[name] {
		if t.found[e] && e.Release != "" {
			out = append(out, e.Release)
		}
	}
	return out
}

func releaseList(rs []string) string {
	if len(rs) == 0 {
		return "none that a request can name"
	}
	return strings.Join(rs, ", ")
}

// withCompileOptions returns rt with options in its compile argv (at the
// argument "{options}", else after the first word), each one of
// rt.CompileOptions; a copy, so that the build cache's key, which hashes
// the argv, tells the builds apart. An option not allowed is a 400 naming
// it.
func withCompileOptions(rt *Runtime, options []string) (*Runtime, error) {
	if len(options) > 0 && !rt.compiled() {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "%s is not compiled: it takes no compile options", rt.Name)
	}
	for _, o := range options {
		if !slices.Contains(rt.CompileOptions, o) {
			return nil, &computemw.Error{
				Code:    computemw.CodeBadRequest,
				Message: fmt.Sprintf("compile option %q is not allowed for %s", o, rt.Name),
				Details: map[string]any{"option": o, "allowed": slices.Clone(rt.CompileOptions)},
			}
		}
	}
	if !rt.compiled() || len(options) == 0 && !slices.Contains(rt.Compile, optionsPlaceholder) {
		return rt, nil
	}
	c := *rt
	at := slices.Index(rt.Compile, optionsPlaceholder)
	if at < 0 {
		c.Compile = slices.Concat(rt.Compile[:1], options, rt.Compile[1:])
	} else {
		c.Compile = slices.Concat(rt.Compile[:at], options, rt.Compile[at+1:])
	}
	return &c, nil
}

// optionsPlaceholder is the compile argv's argument that a request's
// compile options replace.
const optionsPlaceholder = "{options}"
