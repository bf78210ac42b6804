package jobs_test

import (
	"errors"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/jobs"
)

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		mode      jobs.Compare
		out, want string
		match     bool
	}{
		{jobs.CompareTrim, "3\n", "3", true},
		{jobs.CompareTrim, "3  \r\n\n\n", "3\n", true},
		{jobs.CompareTrim, "1 2\n", "1  2\n", false},
		{jobs.CompareTrim, " 3\n", "3\n", false},
		{jobs.CompareExact, "3\n", "3", false},
		{jobs.CompareExact, "3\n", "3\n", true},
		{jobs.CompareTokens, "1\n2   3\n", "1 2 3", true},
		{jobs.CompareTokens, "1 2", "1 2 3", false},
		{"", "x \n", "x", true},
	} {
		if got := c.mode.Matches(c.out, c.want); got != c.match {
			t.Errorf("%q.Matches(%q, %q) = %t", c.mode, c.out, c.want, got)
		}
	}
}

func TestGrade(t *testing.T) {
	want := "ok\n"
	spec := &jobs.Spec{ExpectedOutput: &want}
	for _, c := range []struct {
		res     *computemw.Result
		err     error
		verdict jobs.Verdict
		signal  string
	}{
		{&computemw.Result{Stdout: "ok\n"}, nil, jobs.VerdictAccepted, ""},
		{&computemw.Result{Stdout: "no\n"}, nil, jobs.VerdictWrongAnswer, ""},
		{&computemw.Result{ExitCode: 1}, nil, jobs.VerdictRuntimeError, ""},
		{&computemw.Result{ExitCode: 136}, nil, jobs.VerdictRuntimeError, "SIGFPE"},
		{&computemw.Result{}, &computemw.Error{Code: computemw.CodeTimeout}, jobs.VerdictTimeLimit, ""},
		{&computemw.Result{}, &computemw.Error{Code: computemw.CodeResource, Message: "memory limit of 64 MB exceeded"}, jobs.VerdictMemoryLimit, ""},
		{&computemw.Result{}, &computemw.Error{Code: computemw.CodeResource, Message: "process limit of 64 exceeded"}, jobs.VerdictRuntimeError, ""},
		{nil, &computemw.Error{Code: computemw.CodeExecution, Details: map[string]any{"compileOutput": "x.c:1: error"}}, jobs.VerdictCompilationError, ""},
		{nil, &computemw.Error{Code: computemw.CodeExecution, Message: "unknown language"}, jobs.VerdictInternalError, ""},
		{nil, errors.New("boom"), jobs.VerdictInternalError, ""},
	} {
		o := jobs.Grade(spec, c.res, c.err)
		if o.Verdict != c.verdict || o.Signal != c.signal {
			t.Errorf("Grade(%+v, %v) = %s %q, want %s %q", c.res, c.err, o.Verdict, o.Signal, c.verdict, c.signal)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("k"), []byte(`{"id":"1"}`)
	now := time.Now()
	h := jobs.Sign(secret, now, body)
	if err := jobs.VerifySignature(secret, h, body, 0); err != nil {
		t.Fatalf("a fresh signature: %v", err)
	}
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   []byte
	}{
		"another secret":  {[]byte("other"), h, body},
		"another body":    {secret, h, []byte(`{"id":"2"}`)},
		"stale":           {secret, jobs.Sign(secret, now.Add(-time.Hour), body), body},
		"malformed":       {secret, "v1=abc", body},
		"empty":           {secret, "", body},
		"bad hex ignored": {secret, "t=1,v1=zz", body},
	} {
		if err := jobs.VerifySignature(c.secret, c.header, c.body, time.Minute); !errors.Is(err, jobs.ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
