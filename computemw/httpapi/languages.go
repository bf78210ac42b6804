package httpapi

import (
	"context"
	"net/http"
	"sync"

	"github.com/computemw/kit/computemw"
)

// ProviderRuntimes is one provider's entry in the body of GET /languages.
type ProviderRuntimes struct {
	Provider string              `json:"provider"`
	Runtimes []computemw.Runtime `json:"runtimes"`
	// Error says why the provider's runtimes could not be listed (they may
	// still be listed by name alone).
	Error string `json:"error,omitempty"`
}

// LanguagesResponse is the body of GET /languages.
type LanguagesResponse struct {
	// DefaultProvider is the provider used when a request names none.
	DefaultProvider string             `json:"defaultProvider"`
	Providers       []ProviderRuntimes `json:"providers"`
}

// handleLanguages serves GET /languages: every provider's runtimes. A
// provider whose listing fails is reported with an error (its cause is
// logged) and its languages by name, and the others still answer.
func (k *API) handleLanguages(ctx context.Context, _ *computemw.Request) (*Response, error) {
	if err := k.kit.Authorize(ctx, computemw.OpLanguages); err != nil {
		return nil, err
	}
	names := k.kit.Providers()
	out := LanguagesResponse{DefaultProvider: k.cfg.DefaultProvider, Providers: make([]ProviderRuntimes, len(names))}
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			pr := ProviderRuntimes{Provider: name}
			rts, err := k.kit.Runtimes(ctx, name)
			if err != nil {
				k.log.WarnContext(ctx, "computemw: listing runtimes failed", "provider", name, "error", err)
				pr.Error = publicMessage(computemw.AsError(err))
				rts = []computemw.Runtime{}
				for _, n := range k.kit.Languages(name) {
					rts = append(rts, computemw.Runtime{Name: n, Aliases: []string{}})
				}
			}
			pr.Runtimes = rts
			out.Providers[i] = pr
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, out)
}
