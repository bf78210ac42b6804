package local_test

import (
	"context"
	"fmt"
	"log"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// The embedded default provider: bubblewrap sandboxes on this Linux host.
// local.New fails with an error naming what is missing (bubblewrap,
// cgroups, Linux itself).
func ExampleNew() {
	prov, err := local.New(local.Config{MemoryMB: 256, CPUCores: 0.5})
	if err != nil {
		log.Fatal(err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}})
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Close(context.Background())

	res, err := kit.Execute(context.Background(), computemw.Run{Language: "python", Code: "print(2 + 2)"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
}
