//! End-to-end tests across the roadcall-perf crates.
//!
//! The tests in `tests/tests/` will drive the local server against real Redis and
//! PostgreSQL started by `testkit` (issues 5 and 9). This library is intentionally empty.
