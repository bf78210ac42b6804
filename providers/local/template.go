//go:build linux

package local

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/computemw/kit/computemw"
)

// fsTemplate is a root filesystem that sandboxes can run on instead of the
// host's system directories: its /usr, /bin, /lib... and the few files of
// /etc that programs need are bound read-only, shared by every sandbox on
// it. The provider's generated /etc files, the workspace, /tmp, /proc and
// /dev are the same as on the host's directories.
type fsTemplate struct {
	name     string
	root     string   // the directory, as configured
	binds    []string // bwrap options that make it the sandbox's system
	rt       *runtimeTable
	packages []string
}

// templateDirs are the directories of a root filesystem that a template
// provides (those present).
var templateDirs = []string{"/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"}

// templatePackagesFile lists a template's packages, one "name version" a
// line; scripts/build-template.sh writes it.
const templatePackagesFile = "usr/share/computemw-template/packages"

// templateEtcFiles are the files of /etc a template's packages ship and
// their programs need, bound from the template as etcFiles are:
// Debian's matplotlib reads its defaults from /etc/matplotlibrc.
var templateEtcFiles = []string{"/etc/matplotlibrc"}

// loadTemplates checks Config.Templates and prepares each: its binds and
// which runtimes it has.
func (tc *toolchains) loadTemplates() error {
	cfg := &tc.p.cfg
	tc.templates = map[string]*fsTemplate{}
	// A template is a set of mounts of the profile, which only bwrap's
	// isolation applies.
	if _, mounts := tc.p.iso.(*bwrapIsolation); len(cfg.Templates) > 0 && !mounts {
		return errors.New("local: templates need bwrap's isolation; they cannot be used without namespaces")
	}
	for name, root := range cfg.Templates {
		if name == "" || strings.ContainsAny(name, "/\x00") {
			return fmt.Errorf("local: template name %q is not a plain name", name)
		}
		if _, clash := tc.p.rt.byName[name]; clash {
			return fmt.Errorf("local: template name %q is also a language name", name)
		}
		t, err := tc.loadTemplate(name, root)
		if err != nil {
			return err
		}
		tc.templates[name] = t
	}
	if d := cfg.DefaultTemplate; d != "" && tc.templates[d] == nil {
		return fmt.Errorf("local: DefaultTemplate %q is not one of Templates", d)
	}
	return nil
}

func (tc *toolchains) loadTemplate(name, root string) (*fsTemplate, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local: template %q: %w", name, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("local: template %q: %s is not a directory (build it first, e.g. make template-python-data)", name, abs)
	}
	if _, err := resolveInRoot(abs, "/bin/sh"); err != nil {
		return nil, fmt.Errorf("local: template %q: it has no /bin/sh, which every execution starts with", name)
	}
	t := &fsTemplate{name: name, root: abs}
	src, err := tc.stage(abs)
	if err != nil {
		return nil, err
	}
	for _, d := range templateDirs {
		fi, err := os.Lstat(filepath.Join(abs, d))
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(filepath.Join(abs, d)); err == nil {
				t.binds = append(t.binds, "--symlink", target, d)
			}
		case fi.IsDir():
			t.binds = append(t.binds, "--ro-bind", filepath.Join(src, d), d)
		}
	}
	for _, f := range append(slices.Clone(etcFiles), templateEtcFiles...) {
		if _, err := os.Stat(filepath.Join(abs, f)); err == nil {
			t.binds = append(t.binds, "--ro-bind", filepath.Join(src, f), f)
		}
	}
	// The template is the sandbox's whole system: a runtime is available
	// when its tool is in it (not in the host's HostDirs).
	t.rt, err = newRuntimeTableWith(tc.p.cfg.Runtimes, func(rt *Runtime) error { return t.lookPath(rt.tool()) })
	if err != nil {
		return nil, err
	}
	t.packages = readPackages(filepath.Join(abs, templatePackagesFile))
	return t, nil
}

// lookPath finds an executable in the sandbox's PATH inside the template.
func (t *fsTemplate) lookPath(name string) error {
	_, err := t.find(name)
	return err
}

// find resolves an executable in the sandbox's PATH inside the template,
// returning its host path.
func (t *fsTemplate) find(name string) (string, error) {
	cands := []string{name}
	if !strings.Contains(name, "/") {
		cands = nil
		for _, dir := range filepath.SplitList(sandboxPath) {
			cands = append(cands, filepath.Join(dir, name))
		}
	}
	for _, c := range cands {
		p, err := resolveInRoot(t.root, c)
		if err != nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(t.root, p))
		if err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return filepath.Join(t.root, p), nil
		}
	}
	return "", fmt.Errorf("%s is not installed in template %q", name, t.name)
}

// toolID identifies the compiler of rt in the template.
func (t *fsTemplate) toolID(rt *Runtime) (string, error) {
	p, err := t.find(rt.tool())
	if err != nil {
		return "", computemw.Errorf(computemw.CodeExecution, "%s", err.Error())
	}
	return "template " + t.name + " " + statID(t.root) + " " + statID(p), nil
}

// resolveInRoot resolves p inside root as a process whose root directory
// is root would: symbolic links (absolute ones from root) never lead out
// of it. It returns the resolved path, relative to root, starting with /.
func resolveInRoot(root, p string) (string, error) {
	for hops := 0; hops < 40; hops++ {
		parts := strings.Split(strings.Trim(filepath.Clean("/"+p), "/"), "/")
		cur := "/"
		link := false
		for i, part := range parts {
			if part == "" {
				continue
			}
			next := filepath.Join(cur, part)
			fi, err := os.Lstat(filepath.Join(root, next))
			if err != nil {
				return "", err
			}
			if fi.Mode()&os.ModeSymlink == 0 {
				cur = next
				continue
			}
			target, err := os.Readlink(filepath.Join(root, next))
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			p = filepath.Join(append([]string{"/", target}, parts[i+1:]...)...)
			link = true
			break
		}
		if !link {
			return cur, nil
		}
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", p)
}

// readPackages reads a template's package list, if it has one.
func readPackages(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < 100000 {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Templates lists the provider's templates and what each contains: the
// languages whose tools it has and, for templates built by
// scripts/build-template.sh, its packages.
func (p *Provider) Templates() []TemplateInfo {
	out := make([]TemplateInfo, 0, len(p.tc.templates))
	for _, t := range p.tc.templates {
		out = append(out, TemplateInfo{
			Name: t.name, Root: t.root, Default: t.name == p.cfg.DefaultTemplate,
			Languages: t.rt.names(), Packages: slices.Clone(t.packages),
		})
	}
	slices.SortFunc(out, func(a, b TemplateInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// templateFor resolves CreateOptions.Template: "" is Config.DefaultTemplate
// (or the host's directories); a template's name is that template; a
// language's name (the provider's earlier meaning of Template) asks that
// its runtime be present, on the default template.
func (p *Provider) templateFor(name string) (*fsTemplate, error) {
	if t, ok := p.tc.templates[name]; ok {
		return t, nil
	}
	def := p.tc.templates[p.cfg.DefaultTemplate]
	if name == "" {
		return def, nil
	}
	if _, err := p.runtime(name); err != nil {
		if len(p.tc.templates) > 0 {
			return nil, &computemw.Error{Code: computemw.CodeBadRequest, Message: fmt.Sprintf("unknown template %q", name),
				Details: map[string]any{"templates": slices.Sorted(maps.Keys(p.tc.templates))}}
		}
		return nil, err
	}
	return def, nil
}

// systemBinds are the bwrap options that expose the sandbox's system
// directories: its template's, or the host's.
func (s *sandbox) systemBinds() []string {
	if s.tmpl != nil {
		return s.tmpl.binds
	}
	return s.p.binds
}

// runtime resolves a language in the sandbox's template, or on the host.
func (s *sandbox) runtime(language string) (*Runtime, error) {
	if s.tmpl == nil {
		return s.p.runtime(language)
	}
	rt, ok := s.tmpl.rt.byName[language]
	if !ok {
		return nil, &computemw.Error{
			Code:    computemw.CodeExecution,
			Message: fmt.Sprintf("unsupported language %q", language),
			Details: map[string]any{"supported": s.tmpl.rt.names()},
		}
	}
	if !s.tmpl.rt.available[rt.Name] {
		return nil, computemw.Errorf(computemw.CodeExecution, "the %s runtime is not installed in template %q", rt.Name, s.tmpl.name)
	}
	return rt, nil
}

// TemplateNames implements computemw.LanguageLister: the names of the
// provider's templates.
func (p *Provider) TemplateNames() []string {
	return slices.Sorted(maps.Keys(p.tc.templates))
}

// languages lists the names of the runtimes available on the host's
// directories or in a template, sorted.
func (p *Provider) languages() []string {
	names := p.rt.names()
	for _, t := range p.tc.templates {
		for _, n := range t.rt.names() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}
