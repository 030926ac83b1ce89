package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm/mail/mailtest"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestMailSurvivesKill9: ward is killed with SIGKILL in the middle of a
// burst of user creations, with mails still waiting for the SMTP server
// (which holds them) and some users' mails never started. Restarted on
// the same database, it sends every mail: each user whose creation was
// acknowledged (201) has exactly one distinct mail (by Message-ID; a mail
// the server took while ward died may arrive twice with the same
// Message-ID, as delivery is at least once), its link sets the password,
// no mail failed, and the outbox table ends empty. Without SMTP, the same
// holds for the .eml outbox directory.
func TestMailSurvivesKill9(t *testing.T) {
	// Each spends most of its time waiting out the killed node's lease
	// (30 s), so they wait side by side.
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); mailSurvivesKill9(t, "", true) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); mailSurvivesKill9(t, sqltest.PostgresDSN(t), true) })
	t.Run("sqlite outbox dir", func(t *testing.T) { t.Parallel(); mailSurvivesKill9(t, "", false) })
}

// receivedMail is one mail as the recipient sees it.
type receivedMail struct {
	to, messageID, link string
}

func mailSurvivesKill9(t *testing.T, db string, viaSMTP bool) {
	w := newWardEnv(t, db)
	var smtpSrv *mailtest.Server
	if viaSMTP {
		// The first five mails go through; the rest wait at the server
		// until ward has been killed.
		smtpSrv = mailtest.Start(t, &mailtest.Server{Hold: make(chan struct{}), HoldAfter: 5}, mailtest.Plain, nil)
		w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none")
		defer func() {
			select {
			case <-smtpSrv.Hold:
			default:
				close(smtpSrv.Hold)
			}
		}()
	}
	w.env = append(w.env, "WARD_MAIL_FROM=Vault IAM <iam@vault.test>")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})

	// The burst: six clients create users until ward is gone; after 30
	// acknowledged creations it is killed.
	var (
		mu     sync.Mutex
		acked  = map[string]string{} // email → user ID
		killed = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	for c := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				email := fmt.Sprintf("u%d-%03d@vault.test", c, i)
				status, id, err := createUser(s.URL, a.token, email)
				if err != nil || status == 0 {
					return // ward is gone
				}
				if status != 201 {
					select {
					case <-killed:
						return
					default:
					}
					t.Errorf("creating %s = %d", email, status)
					return
				}
				mu.Lock()
				acked[email] = id
				n := len(acked)
				mu.Unlock()
				if n >= 30 {
					once.Do(func() {
						_ = s.cmd.Process.Kill() // SIGKILL: no shutdown, no drain
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()
	<-s.done
	if t.Failed() {
		return
	}
	if viaSMTP {
		// The server now takes the mails it held; ward never heard back.
		close(smtpSrv.Hold)
	}
	mu.Lock()
	t.Logf("%d creations acknowledged before the kill, %d mails delivered", len(acked), len(received(t, w, smtpSrv)))
	mu.Unlock()

	// Restarted on the same address, so the links queued before the kill
	// point at it.
	s2 := w.serve(t, "--addr", strings.TrimPrefix(s.URL, "http://"))
	store, err := sql.Open(context.Background(), sql.Config{DSN: w.db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	outboxRows := func() int64 {
		var n int64
		if err := store.DB().Table("mail_outbox").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Wait (polling, with a deadline past the 30 s lease of the mails the
	// killed node held) until every acknowledged user has mail and the
	// outbox is empty.
	var mails map[string][]receivedMail
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		mails = received(t, w, smtpSrv)
		missing := 0
		for email := range acked {
			if len(mails[email]) == 0 {
				missing++
			}
		}
		rows := outboxRows()
		if missing == 0 && rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %d of %d acknowledged users without mail, %d outbox rows left\n%s",
				missing, len(acked), rows, s2.logs())
		}
	}

	for email, id := range acked {
		distinct := map[string]bool{}
		for _, m := range mails[email] {
			distinct[m.messageID] = true
		}
		if len(distinct) != 1 {
			t.Errorf("%s (user %s) got %d distinct mails, want 1: %+v", email, id, len(distinct), mails[email])
			continue
		}
		link := mails[email][0].link
		if link == "" {
			t.Errorf("%s's mail has no set-password link", email)
			continue
		}
		b := browser(t)
		_, _, csrf := page(t, b, link)
		target, query, _ := strings.Cut(link, "?")
		token, _ := url.ParseQuery(query)
		if status, body := post(t, b, target, url.Values{"csrf_token": {csrf}, "token": {token.Get("token")},
			"password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}); status != 200 {
			t.Errorf("%s's link does not set the password: %d\n%s", email, status, body)
		}
	}
	a.base = s2.URL
	if ev := a.must(200, "GET", "/admin/v1/realms/vault/events?type=mail.failed", nil); len(ev["items"].([]any)) != 0 {
		t.Errorf("mail.failed events: %v", ev["items"])
	}
	if rows := outboxRows(); rows != 0 {
		t.Errorf("%d outbox rows left", rows)
	}
}

// createUser posts one user without failing the test when ward is gone
// (status 0 or an error then).
func createUser(base, token, email string) (int, string, error) {
	body, _ := json.Marshal(map[string]any{"email": email, "first_name": "U", "last_name": "V"})
	req, err := http.NewRequest("POST", base+"/admin/v1/realms/vault/users", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil && resp.StatusCode == 201 {
		return 0, "", err // cut off mid-answer: not acknowledged
	}
	return resp.StatusCode, out.ID, nil
}

// received is every mail delivered so far, by recipient: from the SMTP
// server, or the .eml files of the outbox directory.
func received(t *testing.T, w *wardEnv, smtpSrv *mailtest.Server) map[string][]receivedMail {
	var raws [][]byte
	if smtpSrv != nil {
		for _, r := range smtpSrv.Received() {
			raws = append(raws, r.Data)
		}
	} else {
		files, _ := filepath.Glob(filepath.Join(w.dataDir, "outbox", "*.eml"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
		}
	}
	out := map[string][]receivedMail{}
	for _, raw := range raws {
		m := mailtest.Parse(t, raw)
		to := strings.Trim(m.To, "<>")
		if i := strings.LastIndex(to, "<"); i >= 0 {
			to = strings.TrimSuffix(to[i+1:], ">")
		}
		out[to] = append(out[to], receivedMail{to: to, messageID: m.MessageID, link: setPasswordLink.FindString(m.Text)})
	}
	return out
}
