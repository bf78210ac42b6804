package e2bfake

import "testing"

func TestSpecsLoad(t *testing.T) {
	if _, _, err := validators(); err != nil {
		t.Fatal(err)
	}
}
