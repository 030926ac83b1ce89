// Package mail composes and delivers the mails Ward sends to people: the
// set-password mail (an admin created the account; 12 h link) and the
// password-reset mail (self-service; 30 min link).
//
// It owns:
//   - composition: Mail (what the realm service knows: kind, address, first
//     name, realm display name, absolute link) → Message (From, To, Subject,
//     plain-text and HTML bodies), rendered from the templates embedded in
//     package templates (mail/*.txt with text/template, mail/*.html with
//     html/template, so names and links are escaped in HTML);
//   - delivery: the Sender interface and its two implementations, SMTP (go-mail,
//     configured from a smtp:// or smtps:// URL, see ParseSMTPURL) and Outbox
//     (RFC 5322 .eml files in a private directory, for running without a mail
//     server);
//   - the asynchronous queue: Mailer.Enqueue composes at once and returns; a few
//     workers deliver with retries and exponential backoff, and report the
//     final outcome through callbacks so the caller can record an event.
//
// It must not:
//   - touch the database or know about realm.Store: the realm service decides
//     who gets a mail and enqueues it after its transaction commits; this
//     package only delivers, and tells the service how it went;
//   - block an API call: Enqueue never waits for the network or for room in
//     the queue (a full queue is an error the caller logs);
//   - log secrets: the SMTP password never appears in logs or errors
//     (SMTP.String is redacted); a mail's link and body are never logged,
//     with one deliberate exception: the Outbox logs the link at Info,
//     because without a mail server that log line is the operator's only way
//     to receive it;
//   - read the environment or keep package-level state: cmd/ward builds a
//     Config and calls New.
//
// Use (cmd/ward builds it; the realm service holds the *Mailer):
//
//	sender, err := mail.NewSender(mail.SenderConfig{SMTPURL: smtpURL, OutboxDir: outbox, Logger: log})
//	m, err := mail.New(mail.Config{Sender: sender, From: from, Logger: log,
//		OnFailure: func(r mail.Result) { /* record an event for r.RealmID, r.UserID */ }})
//	defer m.Close(shutdownCtx)
//	// after the transaction that stored the link's token has committed:
//	err = m.Enqueue(mail.Mail{Kind: mail.KindSetPassword, To: u.Email, FirstName: u.FirstName,
//		RealmName: r.DisplayName, Link: link, RealmID: r.ID, UserID: u.ID})
package mail
