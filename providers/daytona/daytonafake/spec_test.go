package daytonafake

import "testing"

func TestSpecsLoad(t *testing.T) {
	if _, _, err := validators(); err != nil {
		t.Fatal(err)
	}
}
