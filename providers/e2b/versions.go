package e2b

import (
	"strconv"
	"strings"
)

// envdVersion is the version of a sandbox's envd (major, minor, patch), read
// from the envdVersion of the create or connect answer.
type envdVersion [3]int

// The envd versions that brought the features the provider uses, as E2B's
// SDKs gate them (packages/js-sdk/src/envd/versions.ts of the JS SDK
// 2.45.0); below each one the provider falls back or refuses the feature.
var (
	// startStdin: StartRequest.stdin; an older envd always opens stdin.
	startStdin = envdVersion{0, 3, 0}
	// defaultUser: envd picks the user when a request names none; an
	// older envd needs one (the username parameter, Basic authorization).
	defaultUser = envdVersion{0, 4, 0}
	// closeStdin: Process.CloseStdin.
	closeStdin = envdVersion{0, 5, 2}
	// octetStreamUpload: raw application/octet-stream bodies on POST
	// /files; an older envd takes multipart/form-data only.
	octetStreamUpload = envdVersion{0, 5, 7}
)

// sdkDefaultUser is the user E2B's SDKs name to an envd older than
// defaultUser (packages/js-sdk/src/connectionConfig.ts, 2.45.0).
const sdkDefaultUser = "user"

// newestEnvd stands for a version that cannot be read: the answer's
// envdVersion is required, so a missing or odd one is taken to be a build
// newer than every gate.
var newestEnvd = envdVersion{1 << 30, 0, 0}

// parseEnvdVersion reads "0.5.7" (a "v" before it and a pre-release or
// build suffix after it are ignored).
func parseEnvdVersion(s string) envdVersion {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return newestEnvd
	}
	var v envdVersion
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return newestEnvd
		}
		v[i] = n
	}
	return v
}

// atLeast reports whether v is w or newer.
func (v envdVersion) atLeast(w envdVersion) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] > w[i]
		}
	}
	return true
}

// String is "0.5.7".
func (v envdVersion) String() string {
	if v == newestEnvd {
		return "unknown"
	}
	return strconv.Itoa(v[0]) + "." + strconv.Itoa(v[1]) + "." + strconv.Itoa(v[2])
}
