//! End-to-end tests across the roadcall-perf crates: `tests/tests/` drives the local
//! server against real Redis and PostgreSQL started by `testkit`. Nothing is exported; the
//! package exists so that these tests can depend on every crate of the workspace.
