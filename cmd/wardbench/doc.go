// Command wardbench is Ward's load harness (make bench). It runs the real
// ward binary on loopback, on SQLite and (when WARD_TEST_POSTGRES is set) on
// PostgreSQL, and reports:
//
//   - client_credentials grants per second over real HTTP, with this process
//     as the load generator on the same machine;
//   - server CPU time per grant (user+system time of the ward process, read
//     from /proc, divided by the grants served);
//   - JWKS, discovery and introspection per second, each as a ratio to a
//     static net/http server in wardbench serving the same JWKS bytes
//     through the same load generator (-only endpoints runs these alone);
//   - that server CPU per grant in ES256 signatures: the CPU time of one
//     signature as Ward signs, measured in wardbench on one goroutine right
//     before the load (-only grants runs client_credentials alone);
//   - the many-realms run (-only realms runs it alone): -realms realms
//     created through the admin API, a service account in the first,
//     middle and last; after a restart, start-to-ready, idle resident
//     memory, sequential client_credentials p50/p99 at those three realms
//     and resident memory after one JWKS from each of 1,000 realms, side by
//     side with the same figures for a one-realm database.
//
// It measures; it asserts nothing. Results are written to docs/benchmarks.md
// by hand, with the machine and date.
package main
