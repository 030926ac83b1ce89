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
//   - start-to-ready time with many realms in the database;
//   - idle resident memory after start.
//
// It measures; it asserts nothing. Results are written to docs/benchmarks.md
// by hand, with the machine and date.
package main
