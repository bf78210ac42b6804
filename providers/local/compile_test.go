//go:build linux

package local_test

// Compiled languages: for every language whose toolchain is present, a
// program that greets with its arguments, echoes its stdin, crashes and
// loops, plus a program that does not compile. Each language compiles its
// program once (the later runs are build cache hits); languages run in
// parallel.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

type compiledCase struct {
	lang string
	// program takes a mode as its first argument: hello (prints
	// "hello:" and its other arguments joined by |), echo, crash, loop.
	program string
	// modeArgs are the arguments that select a mode: for most the mode
	// itself.
	broken     string // a program that does not compile
	brokenSays string // what its compiler says
	crashSays  string // what the crash prints on stderr
}

var compiledCases = []compiledCase{
	{
		lang: "go",
		program: `package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello:" + strings.Join(os.Args[2:], "|"))
	case "echo":
		b, _ := io.ReadAll(os.Stdin)
		os.Stdout.Write(b)
	case "crash":
		var m map[string]int
		m["x"] = 1
	default:
		for {
		}
	}
}
`,
		broken: "package main\n\nfunc main() { undefinedFunction() }\n", brokenSays: "undefined: undefinedFunction",
		crashSays: "panic: assignment to entry in nil map",
	},
	{
		lang: "c",
		program: `#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	if (!strcmp(argv[1], "hello")) {
		printf("hello:");
		for (int i = 2; i < argc; i++) printf(i > 2 ? "|%s" : "%s", argv[i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(argv[1], "echo")) {
		int c;
		while ((c = getchar()) != EOF) putchar(c);
		return 0;
	}
	if (!strcmp(argv[1], "crash")) {
		fprintf(stderr, "c is aborting\n");
		abort();
	}
	volatile unsigned long n = 0;
	for (;;) n++;
}
`,
		broken: "int main(void) { return undeclared_variable; }\n", brokenSays: "undeclared_variable",
		crashSays: "c is aborting",
	},
	{
		lang: "cpp",
		program: `#include <iostream>
#include <stdexcept>
#include <string>

int main(int argc, char **argv) {
	std::string mode = argv[1];
	if (mode == "hello") {
		std::cout << "hello:";
		for (int i = 2; i < argc; i++) std::cout << (i > 2 ? "|" : "") << argv[i];
		std::cout << std::endl;
	} else if (mode == "echo") {
		std::cout << std::cin.rdbuf();
	} else if (mode == "crash") {
		throw std::runtime_error("cpp is throwing");
	} else {
		volatile unsigned long n = 0;
		for (;;) n++;
	}
}
`,
		broken: "int main() { return undeclared_variable; }\n", brokenSays: "undeclared_variable",
		crashSays: "cpp is throwing",
	},
	{
		lang: "rust",
		program: `use std::io::Read;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a[1].as_str() {
        "hello" => println!("hello:{}", a[2..].join("|")),
        "echo" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).unwrap();
            print!("{}", s);
        }
        "crash" => panic!("rust is panicking"),
        _ => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n + 1);
            }
        }
    }
}
`,
		broken: "fn main() { let x: i32 = \"text\"; }\n", brokenSays: "mismatched types",
		crashSays: "rust is panicking",
	},
	{
		lang: "java",
		program: `public class Main {
    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "hello":
                System.out.println("hello:" + String.join("|", java.util.Arrays.copyOfRange(a, 1, a.length)));
                break;
            case "echo":
                System.out.write(System.in.readAllBytes());
                System.out.flush();
                break;
            case "crash":
                throw new IllegalStateException("java is throwing");
            default:
                long n = 0;
                while (true) { n++; }
        }
    }
}
`,
		broken: "public class Main { public static void main(String[] a) { int x = \"text\"; } }\n", brokenSays: "incompatible types",
		crashSays: "java is throwing",
	},
	{
		lang: "typescript",
		program: `declare const process: any;
declare function require(name: string): any;
const a: string[] = process.argv.slice(2);
if (a[0] === "hello") {
	console.log("hello:" + a.slice(1).join("|"));
} else if (a[0] === "echo") {
	process.stdout.write(require("fs").readFileSync(0));
} else if (a[0] === "crash") {
	throw new Error("typescript is throwing");
} else {
	for (;;) {}
}
`,
		broken: "const x: number = \"text\";\n", brokenSays: "not assignable",
		crashSays: "typescript is throwing",
	},
}

func TestCompiledLanguages(t *testing.T) {
	p := newTestProvider(t, local.Config{BuildCacheDir: sharedBuildCache(t)})
	for _, tc := range compiledCases {
		t.Run(tc.lang, func(t *testing.T) {
			requireLanguage(t, p, tc.lang)
			t.Parallel()
			sb := newSandbox(t, p, computemw.CreateOptions{})
			exec := func(code string, opts computemw.ExecOptions) (*computemw.Result, error) {
				if opts.Timeout == 0 {
					// The execution's time limit covers the compile and,
					// for Go the first time, the wait for its warmed
					// cache: minutes on a busy machine.
					opts.Timeout = 4 * time.Minute
				}
				return bounded(t, 5*time.Minute, func() (*computemw.Result, error) {
					return sb.RunCode(t.Context(), tc.lang, code, opts)
				})
			}

			// Hello world, with arguments that a shell would have
			// changed: they arrive as they are.
			args := []string{"hello", "two words", "$HOME", "*", "'q'", ""}
			res, err := exec(tc.program, computemw.ExecOptions{Args: args})
			if err != nil {
				t.Fatalf("hello: %v (%+v)", err, res)
			}
			if want := "hello:two words|$HOME|*|'q'|\n"; res.ExitCode != 0 || res.Stdout != want {
				t.Fatalf("hello: exit %d, stdout %q, want %q; stderr %q, compile output %q", res.ExitCode, res.Stdout, want, res.Stderr, res.CompileOutput)
			}

			// Stdin reaches the program; the artefact now comes from
			// the build cache: no compiler output.
			input := "first line\nsecond line, é\n"
			res, err = exec(tc.program, computemw.ExecOptions{Args: []string{"echo"}, Stdin: strings.NewReader(input)})
			if err != nil || res.ExitCode != 0 || res.Stdout != input {
				t.Fatalf("echo: %v, %+v", err, res)
			}
			if res.CompileOutput != "" {
				t.Errorf("a cached artefact reported compiler output %q", res.CompileOutput)
			}

			// A crash is the program's exit status, not an error.
			res, err = exec(tc.program, computemw.ExecOptions{Args: []string{"crash"}})
			if err != nil {
				t.Fatalf("crash: %v", err)
			}
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.crashSays) {
				t.Errorf("crash: exit %d, stderr %q, want a failure saying %q", res.ExitCode, res.Stderr, tc.crashSays)
			}

			// The run step has the execution's time limit: the loop
			// never ends, and the limit that ends it is the one asked.
			res, err = exec(tc.program, computemw.ExecOptions{Args: []string{"loop"}, Timeout: 2 * time.Second})
			var ce *computemw.Error
			if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || !strings.Contains(ce.Message, "time limit of 2s") {
				t.Fatalf("loop: want a TIMEOUT error naming the 2s limit, got %v (%+v)", err, res)
			}

			// A program that does not compile: EXECUTION_ERROR with the
			// compiler's message, in the error and in the Result.
			res, err = exec(tc.broken, computemw.ExecOptions{})
			if !errors.As(err, &ce) || ce.Code != computemw.CodeExecution {
				t.Fatalf("broken: want an EXECUTION_ERROR, got %v (%+v)", err, res)
			}
			if !strings.Contains(ce.Message, tc.brokenSays) {
				t.Errorf("broken: the error %q does not carry the compiler's message %q", ce.Message, tc.brokenSays)
			}
			if res == nil || res.ExitCode == 0 || !strings.Contains(res.CompileOutput, tc.brokenSays) || res.Stdout != "" {
				t.Errorf("broken: want the compiler's output and exit code in the Result, got %+v", res)
			}
			if d, ok := ce.Details.(map[string]any); !ok || !strings.Contains(d["compileOutput"].(string), tc.brokenSays) {
				t.Errorf("broken: details %v do not carry the compiler's output", ce.Details)
			}

			// Nothing of the build is left in the workspace.
			files, err := sb.ListFiles(t.Context(), ".")
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 0 {
				t.Errorf("the workspace holds %v after the runs", files)
			}
		})
	}
}
