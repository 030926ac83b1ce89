// Command ward is Ward's single binary: serve, migrate, bootstrap,
// rotate-key, version.
//
// This package reads flags and environment variables, builds the Config
// values of the other packages and wires them together in order (store,
// keys, mail queue, service, then the HTTP parts). It holds no domain or
// protocol logic: the few handlers here (/healthz, /readyz, /metrics) only
// report on the process and its database.
package main
