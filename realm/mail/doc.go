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
//   - delivery from the outbox: Mailer is the worker. It claims due mail
//     from a Queue (the outbox in the database, shared by every node:
//     realm.MailQueue, adapted by cmd/ward), as many as it has idle
//     workers, when woken after a local commit, when a worker finishes, or
//     every PollInterval; composes each with the Message-ID {queue
//     ID}@{sender domain}; sends it; renews the claim's lease while the
//     send runs; and reports the outcome: Delivered, Failed (permanent
//     refusal or MaxAttempts reached) or Retry after the backoff (2 s
//     doubling to 5 min by default). Delivery is at least once: a node
//     that dies between the server's acceptance and Delivered leaves the
//     mail to be sent again, with the same Message-ID.
//
// It must not:
//   - touch the database or know about realm.Store: the realm service
//     queues mail in its own transaction and records outcomes; this
//     package only composes, sends and decides when to try again;
//   - lose mail at shutdown: Close stops claiming, waits for the sends in
//     flight, and past its deadline hands them back to the queue;
//   - log secrets: the SMTP password never appears in logs or errors
//     (SMTP.String is redacted); a mail's link and body are never logged,
//     with one deliberate exception: the Outbox logs the link at Info,
//     because without a mail server that log line is the operator's only way
//     to receive it;
//   - read the environment or keep package-level state: cmd/ward builds a
//     Config and calls New.
//
// Use (cmd/ward builds it over the realm's MailQueue):
//
//	sender, err := mail.NewSender(mail.SenderConfig{SMTPURL: smtpURL, OutboxDir: outbox, Logger: log})
//	m, err := mail.New(mail.Config{Sender: sender, Queue: queue, Wake: wake, From: from, Logger: log})
//	defer m.Close(shutdownCtx)
package mail
