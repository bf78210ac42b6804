package computemw_test

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
)

// TestDestroyBeforeReturn: with Config.DestroyBeforeReturn, the sandbox a
// run made for itself is gone the moment Kit.Execute returns (and the
// moment Prepared.Release returns), on every one of many runs — what a
// serverless function needs, frozen once it answers.
func TestDestroyBeforeReturn(t *testing.T) {
	fake := fakeprovider.New("fake")
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fake}, DestroyBeforeReturn: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	ctx := context.Background()
	alive := 0
	for i := range 50 {
		res, err := kit.Execute(ctx, computemw.Run{Language: "python", Code: "echo hi"})
		if err != nil || res.Stdout != "hi\n" {
			t.Fatalf("run %d: %v %+v", i, err, res)
		}
		if kit.Stats().Live != 0 || fake.Live() != 0 {
			alive++
		}

		p, err := kit.Prepare(ctx, computemw.Run{Command: "echo hi"})
		if err != nil {
			t.Fatalf("prepare %d: %v", i, err)
		}
		if _, err := p.Run(p.Context(), nil, nil); err != nil {
			t.Fatalf("prepared run %d: %v", i, err)
		}
		p.Release()
		if kit.Stats().Live != 0 || fake.Live() != 0 {
			alive++
		}
	}
	if alive != 0 {
		t.Errorf("%d of 100 runs returned with their sandbox alive", alive)
	}
	if n := fake.Created(); n != 100 {
		t.Errorf("%d sandboxes created, want 100", n)
	}
}
