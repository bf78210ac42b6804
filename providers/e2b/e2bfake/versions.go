package e2bfake

import (
	"net/http"
	"strconv"
	"strings"
)

// DefaultEnvdVersion is the envd version a fake sandbox advertises unless
// SetEnvdVersion says otherwise: one that has every feature the provider
// uses.
const DefaultEnvdVersion = "0.5.7"

// SetEnvdVersion sets the envdVersion that sandboxes made from now on
// advertise (in the create, connect and get answers).
func (f *Fake) SetEnvdVersion(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envdVersion = v
}

// The envd versions that brought the features the fake gates, as E2B's
// SDKs gate them (packages/js-sdk/src/envd/versions.ts of the JS SDK
// 2.45.0): below each, the fake refuses the feature and reports the
// request as a contract violation.
var (
	gateStartStdin  = [3]int{0, 3, 0} // StartRequest.stdin
	gateDefaultUser = [3]int{0, 4, 0} // a request may name no user
	gateCloseStdin  = [3]int{0, 5, 2} // Process.CloseStdin
	gateOctetStream = [3]int{0, 5, 7} // raw bodies on POST /files
)

// users are the sandbox's accounts, as in E2B's base template.
var users = map[string]bool{"user": true, "root": true}

// has reports whether the sandbox's envd is at least version gate; a
// version the fake cannot read counts as the newest.
func (sb *sandbox) has(gate [3]int) bool {
	parts := strings.Split(sb.version, ".")
	if len(parts) != 3 {
		return true
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return true
		}
		if n != gate[i] {
			return n > gate[i]
		}
	}
	return true
}

// checkUser refuses, as envd does, a request whose user is unknown, and
// (below 0.4.0) one that names none: /files names it in the username
// parameter, an RPC with Basic authorization ("user:"). It reports false
// when it answered.
func (f *Fake) checkUser(w http.ResponseWriter, r *http.Request, sb *sandbox) bool {
	var user string
	named := false
	if r.URL.Path == "/files" {
		user = r.URL.Query().Get("username")
		named = r.URL.Query().Has("username")
	} else if u, _, ok := r.BasicAuth(); ok {
		user, named = u, true
	}
	if !named {
		if sb.has(gateDefaultUser) {
			return true
		}
		f.errorf("envd %s %s: no user named, which envd %s requires (a default user came in 0.4.0)", r.Method, r.URL.Path, sb.version)
		writeError(w, http.StatusUnauthorized, "error looking up user '': user: unknown user")
		return false
	}
	if !users[user] {
		writeError(w, http.StatusUnauthorized, "error looking up user '"+user+"': user: unknown user "+user)
		return false
	}
	return true
}
