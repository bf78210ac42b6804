package daytona

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/toolboxclient"
	"github.com/computemw/kit/providers/internal/execopts"
)

// codeLanguages maps the names RunCode accepts to the code-run endpoint's
// languages.
var codeLanguages = map[string]string{
	"python": "python", "python3": "python", "py": "python",
	"javascript": "javascript", "js": "javascript", "node": "javascript",
	"typescript": "typescript", "ts": "typescript",
}

// interpreters run a language as a session command, for streamed output
// and input.
var interpreters = map[string]struct{ cmd, ext string }{
	"python":     {"python3", ".py"},
	"javascript": {"node", ".js"},
}

// RunCode implements computemw.Sandbox. Without streaming or input it uses
// the toolbox's code-run endpoint, which answers stdout and stderr
// together (as Stdout) and counts its timeout in whole seconds. With
// ExecOptions.Stdout, Stderr, a non-empty Stdin or a Cwd, python and
// javascript run as a session command like Exec; typescript cannot.
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := execopts.Refuse(s.p.Name(), opts); err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	lang, ok := codeLanguages[language]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeExecution, "language %q is not supported by provider daytona", language)
	}
	lr, ok := opts.Stdin.(lenReader)
	input := opts.Stdin != nil && (!ok || lr.Len() > 0) // the kit passes an empty reader for no input
	if opts.Stdout != nil || opts.Stderr != nil || input || opts.Cwd != "" {
		in, ok := interpreters[lang]
		if !ok {
			return nil, errNotSupported("streaming output, input or a working directory for " + lang)
		}
		s.executions.Add(1)
		file := s.workDir + "/.computemw-code-" + randomID() + in.ext
		if err := s.upload(ctx, file, []byte(code)); err != nil {
			return nil, err
		}
		defer s.removeQuietly(file)
		return s.run(ctx, in.cmd+" "+quote(file), opts)
	}
	s.executions.Add(1)
	return s.codeRun(ctx, lang, code, opts)
}

func (s *Sandbox) codeRun(ctx context.Context, lang, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}
	secs := int(math.Ceil(timeout.Seconds())) // the endpoint counts seconds
	req := toolboxclient.CodeRunRequest{Code: code, Language: lang, Timeout: &secs}
	if len(opts.Env) > 0 {
		req.Envs = &opts.Env
	}
	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	resp, err := s.tb.CodeRun(runCtx, req)
	resp, err = classify.Check("CodeRun", resp, err, 200)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return &computemw.Result{ExitCode: -1, ExecutionTime: time.Since(start)},
				&computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout), Err: err}
		}
		return nil, err
	}
	var out toolboxclient.CodeRunResponse
	if err := classify.Decode("CodeRun", resp, 6*limit+1<<20, &out); err != nil {
		return nil, err
	}
	c := &capture{limit: limit}
	if out.Result != nil {
		c.update(*out.Result, "")
	}
	res := c.result()
	res.ExecutionTime = time.Since(start)
	if out.ExitCode != nil {
		res.ExitCode = *out.ExitCode
	}
	return res, nil
}
