package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// benchEndpoints measures the read-mostly endpoints resource servers call
// (JWKS, discovery, introspection) against the best this machine and this
// load generator can do: a static net/http server in this process serving
// the realm's JWKS bytes, loaded the same way. Each Ward figure is printed
// with its ratio to that ceiling (DESIGN: introspection ≥ 60%, JWKS and
// discovery ≥ 85%). The static server runs before and after the Ward runs
// and the ratio uses their mean, since the machine drifts.
//
// The introspecting caller is a second confidential client (a resource
// server), not the token's own client, as in real use.
func benchEndpoints(p *proc, backend, adminTok string, d time.Duration, concurrency int, id, secret string) error {
	rs, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/clients", map[string]any{"name": "resource-server", "kind": "service_account"})
	if err != nil {
		return err
	}
	rsID, rsSecret := rs["client_id"].(string), rs["client_secret"].(string)
	tok, err := token(http.DefaultClient, p.url, "load", id, secret)
	if err != nil {
		return err
	}
	certsURL := p.url + "/realms/load/protocol/openid-connect/certs"
	jwks, err := fetch(http.DefaultClient, certsURL)
	if err != nil {
		return err
	}
	static, stop, err := staticServer(jwks)
	if err != nil {
		return err
	}
	defer stop()

	get := func(target string) func(*http.Client, int) error {
		return func(client *http.Client, _ int) error {
			_, err := fetch(client, target)
			return err
		}
	}
	form := url.Values{"token": {tok}}.Encode()
	introspectURL := p.url + "/realms/load/protocol/openid-connect/token/introspect"
	introspect := func(client *http.Client, _ int) error {
		req, _ := http.NewRequest("POST", introspectURL, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rsID, rsSecret)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"active":true`)) {
			return fmt.Errorf("introspect: %d %s", resp.StatusCode, body)
		}
		return nil
	}

	before, _, errs0 := loadWith(p, d, concurrency, get(static))
	type run struct {
		name string
		n    int64
		cpu  time.Duration
		errs int64
	}
	var runs []run
	for _, r := range []struct {
		name string
		do   func(*http.Client, int) error
	}{
		{"JWKS", get(certsURL)},
		{"discovery", get(p.url + "/realms/load/.well-known/openid-configuration")},
		{"introspection", introspect},
	} {
		n, cpu, errs := loadWith(p, d, concurrency, r.do)
		runs = append(runs, run{r.name, n, cpu, errs})
	}
	after, _, errs1 := loadWith(p, d, concurrency, get(static))
	ceiling := float64(before+after) / 2 / d.Seconds()
	fmt.Printf("%s: static net/http (same JWKS bytes, in wardbench) %.0f/s before, %.0f/s after (c=%d, %s), %d errors\n",
		backend, float64(before)/d.Seconds(), float64(after)/d.Seconds(), concurrency, d, errs0+errs1)
	for _, r := range runs {
		rate := float64(r.n) / d.Seconds()
		per := time.Duration(0)
		if r.n > 0 {
			per = r.cpu / time.Duration(r.n)
		}
		fmt.Printf("%s: %s %.0f/s = %.0f%% of static, server CPU %.3f ms/request, %d errors\n",
			backend, r.name, rate, 100*rate/ceiling, float64(per.Microseconds())/1000, r.errs)
	}
	return nil
}

// fetch GETs target and wants a 200.
func fetch(client *http.Client, target string) ([]byte, error) {
	resp, err := client.Get(target)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", target, resp.StatusCode)
	}
	return body, err
}

// staticServer serves body with the headers Ward's JWKS answer has, from a
// plain net/http server on loopback: the ceiling of a JSON document served
// through this load generator.
func staticServer(body []byte) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String() + "/certs", func() { _ = srv.Close() }, nil
}
