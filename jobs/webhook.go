package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// WebhookConfig configures the callbacks of finished jobs.
type WebhookConfig struct {
	// Secret keys the callbacks' HMAC-SHA256 signature (see [Sign]);
	// every instance needs the same one. Without it, a job naming a
	// callbackUrl is refused (400).
	Secret []byte
	// AllowedNetworks are let through although they are denied by
	// default (loopback, link-local, private ranges ...), such as an
	// internal receiver's network.
	AllowedNetworks []netip.Prefix
	// RequireHTTPS refuses http callback URLs.
	RequireHTTPS bool
	// Timeout bounds one attempt; default 10 s.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one callback; default 5.
	MaxAttempts int
	// Backoff is the wait before the second attempt, doubled before each
	// next one; default 1 s.
	Backoff time.Duration
	// MaxElapsed bounds the time from the first attempt to the last;
	// default 2 minutes.
	MaxElapsed time.Duration
	// MaxInFlight bounds the callbacks being delivered at once by this
	// instance; one over it is dropped (and counted as failed). Default
	// 256.
	MaxInFlight int
}

var errRefusedAddress = errors.New("address not allowed")

func (w *WebhookConfig) defaults() {
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Second
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 5
	}
	if w.Backoff <= 0 {
		w.Backoff = time.Second
	}
	if w.MaxElapsed <= 0 {
		w.MaxElapsed = 2 * time.Minute
	}
	if w.MaxInFlight <= 0 {
		w.MaxInFlight = 256
	}
}

// webhooks delivers callbacks.
type webhooks struct {
	cfg    WebhookConfig
	client *http.Client
	obs    Observer
	log    *slog.Logger
	slots  chan struct{}
}

func newWebhooks(cfg WebhookConfig, obs Observer, log *slog.Logger) *webhooks {
	cfg.defaults()
	w := &webhooks{cfg: cfg, obs: obs, log: log, slots: make(chan struct{}, cfg.MaxInFlight)}
	d := &net.Dialer{Timeout: cfg.Timeout, Control: w.cfg.control}
	w.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would connect where the check did not look
			DialContext:           d.DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
		},
		Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return w
}

// deliver POSTs the finished job to its callback URL, retrying with
// backoff, until ctx ends.
func (w *webhooks) deliver(ctx context.Context, url string, j *Job) {
	body, err := json.Marshal(j)
	if err != nil {
		w.log.ErrorContext(ctx, "computemw: jobs: webhook body", "job", j.ID, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.MaxElapsed)
	defer cancel()
	wait := w.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := w.post(ctx, url, j.ID, body)
		if err == nil {
			w.obs.WebhookFinished("delivered", attempt)
			return
		}
		if errors.Is(err, errRefusedAddress) {
			w.log.WarnContext(ctx, "computemw: jobs: webhook refused", "job", j.ID, "error", err)
			w.obs.WebhookFinished("refused", attempt)
			return
		}
		if !retry || attempt >= w.cfg.MaxAttempts {
			w.log.WarnContext(ctx, "computemw: jobs: webhook failed", "job", j.ID, "attempts", attempt, "error", err)
			w.obs.WebhookFinished("failed", attempt)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			w.obs.WebhookFinished("failed", attempt)
			return
		case <-t.C:
		}
		wait *= 2
	}
}

// post makes one attempt; retry says whether another may succeed.
func (w *webhooks) post(ctx context.Context, url, id string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "computemw-jobs")
	req.Header.Set(WebhookIDHeader, id)
	req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, time.Now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return !errors.Is(err, errRefusedAddress), err
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = errors.New("receiver answered " + strconv.Itoa(resp.StatusCode))
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout, err
}

// close ends idle connections.
func (w *webhooks) close() { w.client.CloseIdleConnections() }
