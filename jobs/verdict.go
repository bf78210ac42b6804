package jobs

import (
	"errors"
	"strings"

	"github.com/computemw/kit/computemw"
)

// Verdict grades a finished job, in Judge0's vocabulary where it applies.
type Verdict string

// The verdicts.
const (
	// VerdictAccepted: the program exited 0 and, when an expected output
	// was given, printed it.
	VerdictAccepted Verdict = "accepted"
	// VerdictWrongAnswer: the program exited 0 but its output is not the
	// expected one.
	VerdictWrongAnswer Verdict = "wrong_answer"
	// VerdictTimeLimit: the program was stopped at its time limit.
	VerdictTimeLimit Verdict = "time_limit_exceeded"
	// VerdictMemoryLimit: the program was stopped at its memory limit.
	VerdictMemoryLimit Verdict = "memory_limit_exceeded"
	// VerdictRuntimeError: the program exited non-zero or was killed by a
	// signal (Outcome.Signal), or hit another limit (processes, output
	// file size).
	VerdictRuntimeError Verdict = "runtime_error"
	// VerdictCompilationError: a compiled language's compiler refused the
	// code; Result.CompileOutput says why.
	VerdictCompilationError Verdict = "compilation_error"
	// VerdictInternalError: the kit could not run the job (a refusal, a
	// provider failure, an instance that died too often); Outcome.Error
	// says why.
	VerdictInternalError Verdict = "internal_error"
)

// Compare is how a job's output is compared with its expected output.
type Compare string

// The comparison modes.
const (
	// CompareTrim ignores trailing blanks at the end of each line and
	// blank lines at the end (Judge0's default). The default.
	CompareTrim Compare = "trim"
	// CompareExact compares byte for byte.
	CompareExact Compare = "exact"
	// CompareTokens compares the sequences of whitespace-separated words.
	CompareTokens Compare = "tokens"
)

// valid reports whether c is a known mode ("" is CompareTrim).
func (c Compare) valid() bool {
	return c == "" || c == CompareTrim || c == CompareExact || c == CompareTokens
}

// Matches reports whether output is expected under c.
func (c Compare) Matches(output, expected string) bool {
	switch c {
	case CompareExact:
		return output == expected
	case CompareTokens:
		a, b := strings.Fields(output), strings.Fields(expected)
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	return trimLines(output) == trimLines(expected)
}

// trimLines drops trailing blanks of each line and trailing empty lines.
func trimLines(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// Grade returns the outcome of a run that ended with res and err, under
// spec's expected output.
func Grade(spec *Spec, res *computemw.Result, err error) *Outcome {
	o := &Outcome{Result: res}
	if err != nil {
		e := computemw.AsError(err)
		o.Error = &ErrorInfo{Code: e.Code, Message: e.Message}
		switch {
		case e.Code == computemw.CodeTimeout:
			o.Verdict = VerdictTimeLimit
		case e.Code == computemw.CodeResource && strings.Contains(e.Message, "memory"):
			o.Verdict = VerdictMemoryLimit
		case e.Code == computemw.CodeResource:
			o.Verdict = VerdictRuntimeError
		case compileFailure(err):
			o.Verdict = VerdictCompilationError
			if o.Result == nil {
				o.Result = &computemw.Result{}
			}
			if d, ok := e.Details.(map[string]any); ok && o.Result.CompileOutput == "" {
				o.Result.CompileOutput, _ = d["compileOutput"].(string)
			}
		default:
			o.Verdict = VerdictInternalError
		}
		return o
	}
	switch {
	case res == nil:
		o.Verdict = VerdictInternalError
	case res.ExitCode != 0:
		o.Verdict = VerdictRuntimeError
		o.Signal = signalName(res.ExitCode)
	case spec.ExpectedOutput != nil && !spec.Compare.Matches(res.Stdout, *spec.ExpectedOutput):
		o.Verdict = VerdictWrongAnswer
	default:
		o.Verdict = VerdictAccepted
	}
	return o
}

// compileFailure reports whether err is a compiler's refusal: an
// EXECUTION_ERROR whose details carry the compiler's output.
func compileFailure(err error) bool {
	var e *computemw.Error
	if !errors.As(err, &e) || e.Code != computemw.CodeExecution {
		return false
	}
	d, ok := e.Details.(map[string]any)
	if !ok {
		return false
	}
	_, ok = d["compileOutput"]
	return ok
}

// signals names the signals a program commonly dies of, by their Linux
// numbers (sandboxes run Linux whatever the server's own platform).
var signals = map[int]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
	8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
	24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS",
}

// signalName is the signal of an exit code of 128+n (the kit's and the
// shell's convention), or "".
func signalName(code int) string {
	if code <= 128 {
		return ""
	}
	return signals[code-128]
}
