package vercel

import (
	"context"

	"github.com/computemw/kit/computemw"
)

// interpreters run a language's source file; the image must have them
// (Vercel's default image has python3 and node).
var interpreters = map[string]struct{ cmd, ext string }{
	"python": {"python3", ".py"}, "python3": {"python3", ".py"}, "py": {"python3", ".py"},
	"javascript": {"node", ".js"}, "js": {"node", ".js"}, "node": {"node", ".js"},
	"sh": {"sh", ".sh"}, "bash": {"bash", ".sh"},
}

// RunCode implements computemw.Sandbox: the code is written to a hidden
// file in the working directory and run by the language's interpreter,
// like Exec (streamed output, ExecOptions.Args as the program's
// arguments, in-memory stdin).
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	in, ok := interpreters[language]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeExecution, "language %q is not supported by provider vercel", language)
	}
	s.executions.Add(1)
	file := s.workDir + "/.computemw-code-" + randomID() + in.ext
	if err := s.upload(ctx, file, []byte(code)); err != nil {
		return nil, err
	}
	defer s.removeQuietly(file)
	return s.run(ctx, "exec "+in.cmd+" "+quote(file)+` "$@"`, opts.Args, opts)
}
