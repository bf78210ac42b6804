package adapters_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// A session makes a 64 MiB sparse file, free to the sandbox. Reading it
// must not cost the server its size: the JSON read is refused (413) before
// anything is read, even by many clients at once, and the download action
// streams it with its length — on the two server stacks.
func TestLargeFilesAreStreamed(t *testing.T) {
	for _, a := range []int{0, 3, 5} { // net/http, fiber and fiber v3: the two server stacks
		a := adapters[a]
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{MaxFileTransfers: 64})
			base := a.Start(t, kit) + computemwtest.Prefix
			id := bigFileSession(t, base)
			files := base + "/sandboxes/" + id + "/files"
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					r := computemwtest.Do(t, context.Background(), http.MethodPost, files, `{"action":"read","path":"big"}`, nil)
					if r.Status != 413 || r.Code() != string(computemw.CodePayloadTooLarge) {
						t.Errorf("read: %d %s", r.Status, r.Raw)
					}
				})
			}
			wg.Wait()
			resp, err := http.Post(files, "application/json", strings.NewReader(`{"action":"download","path":"big"}`))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if err != nil || resp.StatusCode != 200 || n != 64<<20 || resp.ContentLength != 64<<20 ||
				resp.Header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("download: %d, %d bytes of %d, %q, %v", resp.StatusCode, n, resp.ContentLength, resp.Header.Get("Content-Type"), err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("16 reads and a download of a 64 MiB file allocated %d MiB", alloc>>20)
			}
			if r := computemwtest.Do(t, context.Background(), http.MethodDelete, base+"/sandboxes/"+id, "", nil); r.Status != 204 {
				t.Errorf("delete: %d", r.Status)
			}
		})
	}
}

// bigFileSession creates a session at base (the route group's URL) whose
// workspace holds "big", a 64 MiB sparse file, and returns its ID.
func bigFileSession(t *testing.T, base string) string {
	t.Helper()
	r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes", `{}`, nil)
	id, _ := r.Body["sandboxId"].(string)
	if r.Status != 201 {
		t.Fatalf("session: %d %s", r.Status, r.Raw)
	}
	if r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes/"+id+"/exec",
		`{"command":"truncate -s 64M big"}`, nil); r.Status != 200 || r.Body["exitCode"] != 0.0 {
		t.Fatalf("truncate: %d %s", r.Status, r.Raw)
	}
	return id
}

// A session's files are files on every framework: PUT writes the raw body,
// GET reads it back (with its type, a byte range, HEAD), and a multipart
// POST uploads several at once; bad requests get a stable code.
func TestFilesAsFiles(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{})
			base := a.Start(t, kit) + computemwtest.Prefix
			r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes", `{}`, nil)
			id, _ := r.Body["sandboxId"].(string)
			if r.Status != 201 {
				t.Fatalf("session: %d %s", r.Status, r.Raw)
			}
			files := base + "/sandboxes/" + id + "/files"
			text := "hello, files\n"

			resp := send(t, http.MethodPut, files+"?path=dir/note.txt", "application/octet-stream", strings.NewReader(text), nil)
			if resp.status != 200 || !strings.Contains(resp.body, `"size":13`) {
				t.Fatalf("PUT: %d %s", resp.status, resp.body)
			}
			resp = send(t, http.MethodGet, files+"?path=dir/note.txt", "", nil, nil)
			if resp.status != 200 || resp.body != text || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/plain") ||
				!strings.Contains(resp.header.Get("Content-Disposition"), `filename=note.txt`) || resp.header.Get("Accept-Ranges") != "bytes" {
				t.Fatalf("GET: %d %q %v", resp.status, resp.body, resp.header)
			}
			resp = send(t, http.MethodGet, files+"?path=dir/note.txt", "", nil, map[string]string{"Range": "bytes=7-11"})
			if resp.status != 206 || resp.body != "files" || resp.header.Get("Content-Range") != "bytes 7-11/13" {
				t.Fatalf("range: %d %q %v", resp.status, resp.body, resp.header)
			}
			resp = send(t, http.MethodGet, files+"?path=dir/note.txt", "", nil, map[string]string{"Range": "bytes=-6"})
			if resp.status != 206 || resp.body != "files\n" {
				t.Fatalf("suffix range: %d %q", resp.status, resp.body)
			}
			resp = send(t, http.MethodGet, files+"?path=dir/note.txt", "", nil, map[string]string{"Range": "bytes=13-"})
			if resp.status != 416 || !strings.Contains(resp.body, "RANGE_NOT_SATISFIABLE") || resp.header.Get("Content-Range") != "bytes */13" {
				t.Fatalf("416: %d %q %v", resp.status, resp.body, resp.header)
			}
			resp = send(t, http.MethodHead, files+"?path=dir/note.txt", "", nil, nil)
			if resp.status != 200 || resp.body != "" || resp.header.Get("Content-Length") != "13" {
				t.Fatalf("HEAD: %d %q %v", resp.status, resp.body, resp.header)
			}

			var form bytes.Buffer
			mw := multipart.NewWriter(&form)
			for name, content := range map[string]string{"a.py": "print(1)\n", "b.bin": "\x00\x01\x02"} {
				w, _ := mw.CreateFormFile("file", name)
				io.WriteString(w, content)
			}
			mw.Close()
			resp = send(t, http.MethodPost, files+"?path=up", mw.FormDataContentType(), &form, nil)
			if resp.status != 200 || !strings.Contains(resp.body, `"path":"up/a.py"`) || !strings.Contains(resp.body, `"path":"up/b.bin"`) {
				t.Fatalf("multipart: %d %s", resp.status, resp.body)
			}
			resp = send(t, http.MethodGet, files+"?path=up/b.bin", "", nil, nil)
			if resp.status != 200 || resp.body != "\x00\x01\x02" || resp.header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("GET uploaded: %d %q %v", resp.status, resp.body, resp.header)
			}
			// The JSON form still answers on the same route.
			if r := computemwtest.Do(t, context.Background(), http.MethodPost, files, `{"action":"read","path":"up/a.py"}`, nil); r.Status != 200 || r.Body["content"] != "print(1)\n" {
				t.Fatalf("JSON read: %d %s", r.Status, r.Raw)
			}

			form.Reset()
			mw = multipart.NewWriter(&form)
			mw.WriteField("note", "not a file")
			mw.Close()
			for _, c := range []struct {
				name, method, url, ctype string
				body                     io.Reader
				status                   int
				code                     string
			}{
				{"no path", http.MethodGet, files, "", nil, 400, "BAD_REQUEST"},
				{"bad query", http.MethodGet, files + "?path=%zz", "", nil, 400, "BAD_REQUEST"},
				{"missing", http.MethodGet, files + "?path=nope", "", nil, 404, "NOT_FOUND"},
				{"escape", http.MethodPut, files + "?path=../x", "text/plain", strings.NewReader("x"), 400, "BAD_REQUEST"},
				{"not a file part", http.MethodPost, files, mw.FormDataContentType(), bytes.NewReader(form.Bytes()), 400, "BAD_REQUEST"},
				{"no boundary", http.MethodPost, files, "multipart/form-data", strings.NewReader("x"), 400, "BAD_REQUEST"},
				{"another session", http.MethodGet, base + "/sandboxes/sb-nope/files?path=x", "", nil, 404, "NOT_FOUND"},
				{"compressed", http.MethodPut, files + "?path=z", "text/plain", strings.NewReader("x"), 415, "UNSUPPORTED_MEDIA_TYPE"},
			} {
				h := map[string]string(nil)
				if c.name == "compressed" {
					h = map[string]string{"Content-Encoding": "gzip"}
				}
				resp := send(t, c.method, c.url, c.ctype, c.body, h)
				if resp.status != c.status || !strings.Contains(resp.body, `"code":"`+c.code+`"`) {
					t.Errorf("%s: %d %s, want %d %s", c.name, resp.status, resp.body, c.status, c.code)
				}
			}
			if r := computemwtest.Do(t, context.Background(), http.MethodDelete, base+"/sandboxes/"+id, "", nil); r.Status != 204 {
				t.Errorf("delete: %d", r.Status)
			}
		})
	}
}

// A 50 MB upload (raw and multipart) and its download with curl -O stream
// through the server: what it allocates stays far below the file's size.
func TestLargeUploadAndDownloadStream(t *testing.T) {
	curl, err := exec.LookPath("curl")
	computemwtest.Require(t, err == nil, "curl is not installed")
	kit := localKit(t, computemw.Config{MaxFileTransfers: 4})
	base := adapters[0].Start(t, kit) + computemwtest.Prefix
	r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes", `{}`, nil)
	id, _ := r.Body["sandboxId"].(string)
	if r.Status != 201 {
		t.Fatalf("session: %d %s", r.Status, r.Raw)
	}
	files := base + "/sandboxes/" + id + "/files"
	const size = 50 << 20
	pattern := func() io.Reader { return io.LimitReader(repeatReader("0123456789abcdef"), size) }

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp := send(t, http.MethodPut, files+"?path=raw.bin", "application/octet-stream", pattern(), nil)
	if resp.status != 200 || !strings.Contains(resp.body, `"size":52428800`) {
		t.Fatalf("PUT 50 MB: %d %s", resp.status, resp.body)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, _ := mw.CreateFormFile("file", "form.bin")
		_, err := io.Copy(w, pattern())
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp = send(t, http.MethodPost, files, mw.FormDataContentType(), pr, nil)
	if resp.status != 200 || !strings.Contains(resp.body, `"size":52428800`) {
		t.Fatalf("multipart 50 MB: %d %s", resp.status, resp.body)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24<<20 {
		t.Errorf("two 50 MB uploads allocated %d MiB in the test process (client and server)", alloc>>20)
	}
	if r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes/"+id+"/exec",
		`{"command":"cmp raw.bin form.bin && wc -c < raw.bin"}`, nil); r.Status != 200 || r.Body["output"] != "52428800\n" {
		t.Fatalf("the two uploads differ: %d %s", r.Status, r.Raw)
	}

	dir := t.TempDir()
	runtime.GC()
	runtime.ReadMemStats(&before)
	cmd := exec.Command(curl, "-sSf", "-O", "-J", files+"?path=raw.bin")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl -O: %v %s", err, out)
	}
	runtime.ReadMemStats(&after)
	fi, err := os.Stat(filepath.Join(dir, "raw.bin"))
	if err != nil || fi.Size() != size {
		t.Fatalf("curl saved %v, %v", fi, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("a 50 MB download allocated %d MiB", alloc>>20)
	}
	// Past Config.MaxUploadBytes (64 MiB by default) nothing is kept.
	resp = send(t, http.MethodPut, files+"?path=huge.bin", "application/octet-stream", io.LimitReader(repeatReader("x"), 65<<20), nil)
	if resp.status != 413 && resp.status != 507 {
		t.Fatalf("65 MiB upload: %d %s", resp.status, resp.body)
	}
	if r := computemwtest.Do(t, context.Background(), http.MethodPost, files, `{"action":"stat","path":"huge.bin"}`, nil); r.Status != 404 {
		t.Errorf("a refused upload left a file: %d %s", r.Status, r.Raw)
	}
	if r := computemwtest.Do(t, context.Background(), http.MethodDelete, base+"/sandboxes/"+id, "", nil); r.Status != 204 {
		t.Errorf("delete: %d", r.Status)
	}
}

type reply struct {
	status int
	header http.Header
	body   string
}

// send makes one request and reads its whole answer.
func send(t *testing.T, method, url, ctype string, body io.Reader, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, url, err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// repeatReader yields s again and again.
type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}
