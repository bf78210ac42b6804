package vercel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/providertest"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// The provider is configured from VERCEL_TOKEN, VERCEL_TEAM_ID,
// VERCEL_PROJECT_ID and VERCEL_API_URL alone; a missing one is named in
// the error (the others' values never are).
func TestFromEnv(t *testing.T) {
	fake := vercelfake.New(t, vercelfake.Options{})
	t.Setenv(vercel.EnvToken, fake.Token)
	t.Setenv(vercel.EnvTeamID, fake.TeamID)
	t.Setenv(vercel.EnvProjectID, fake.ProjectID)
	t.Setenv(vercel.EnvAPIURL, fake.URL)
	t.Setenv(vercel.EnvImage, "python:3.14")
	p, err := vercel.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sb, err := p.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.Created(sb.ID())["image"]; got != "python:3.14" {
		t.Errorf("image %v, want VERCEL_SANDBOX_IMAGE's", got)
	}
	res, err := sb.Exec(ctx, "echo from env", computemw.ExecOptions{})
	if err != nil || res.Stdout != "from env\n" {
		t.Fatalf("Exec: %+v, %v", res, err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("left: %v", live)
	}

	t.Setenv(vercel.EnvTeamID, "")
	_, err = vercel.FromEnv()
	if err == nil || !strings.Contains(err.Error(), vercel.EnvTeamID) || strings.Contains(err.Error(), fake.Token) {
		t.Errorf("FromEnv without a team: %v", err)
	}
}

// New refuses incomplete or invalid options, without showing the token.
func TestNewRejectsBadOptions(t *testing.T) {
	good := vercel.Options{Token: "secret-token", TeamID: "team", ProjectID: "prj"}
	for name, mod := range map[string]func(*vercel.Options){
		"no token":   func(o *vercel.Options) { o.Token = "" },
		"no team":    func(o *vercel.Options) { o.TeamID = "" },
		"no project": func(o *vercel.Options) { o.ProjectID = "" },
		"bad URL":    func(o *vercel.Options) { o.APIURL = "ftp://x" },
		"16 ports":   func(o *vercel.Options) { o.Ports = make([]int, 16) },
	} {
		o := good
		mod(&o)
		if _, err := vercel.New(o); err == nil || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := vercel.New(good); err != nil {
		t.Errorf("good options: %v", err)
	}
}

// What Vercel lacks is refused with the kit's wording, naming the
// provider: background processes are not offered at all, an unknown
// language is an EXECUTION_ERROR.
func TestNotSupported(t *testing.T) {
	p, _ := newProvider(t, vercelfake.Options{}, vercel.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	var any computemw.Sandbox = sb
	if _, ok := any.(computemw.ProcessManager); ok {
		t.Error("the sandbox claims background processes")
	}
	_, err := sb.RunCode(ctxT(t, 10*time.Second), "cobol", "x", computemw.ExecOptions{})
	e := providertest.WantCode(t, "RunCode cobol", err, computemw.CodeExecution)
	if !strings.Contains(e.Message, "vercel") {
		t.Errorf("message %q does not name the provider", e.Message)
	}
}
