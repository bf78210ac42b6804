package e2b_test

import (
	"slices"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

// List follows the control plane's pages to the end: with two sandboxes
// a page, five sandboxes take three requests and all five come back, each
// once; a metadata filter is kept on every page.
func TestListFollowsPages(t *testing.T) {
	p, f := newProvider(t, nil)
	ctx := testCtx(t)
	f.SetListPageSize(2)
	var want, wantA []string
	for i := range 5 {
		app := "b"
		if i%2 == 0 {
			app = "a"
		}
		sb := create(t, p, computemw.CreateOptions{Metadata: map[string]string{"app": app}})
		want = append(want, sb.ID())
		if app == "a" {
			wantA = append(wantA, sb.ID())
		}
	}

	ids := func(l []e2b.SandboxInfo) []string {
		out := []string{}
		for _, s := range l {
			out = append(out, s.SandboxID)
		}
		slices.Sort(out)
		return out
	}
	slices.Sort(want)
	slices.Sort(wantA)

	before := f.Count(e2bfake.OpList)
	all, err := p.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(all); !slices.Equal(got, want) {
		t.Errorf("List() = %v, want %v", got, want)
	}
	if n := f.Count(e2bfake.OpList) - before; n != 3 {
		t.Errorf("List() took %d requests, want 3 pages", n)
	}

	before = f.Count(e2bfake.OpList)
	a, err := p.List(ctx, map[string]string{"app": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(a); !slices.Equal(got, wantA) {
		t.Errorf("List(app=a) = %v, want %v", got, wantA)
	}
	if n := f.Count(e2bfake.OpList) - before; n != 2 {
		t.Errorf("List(app=a) took %d requests, want 2 pages", n)
	}

	for _, ex := range f.Exchanges() {
		if ex.Op == "GET /v2/sandboxes" && !ex.AnswerChecked {
			t.Errorf("a list answer was not checked: %s", ex.Problem)
		}
	}
}
