//! Circuit breaker: stop paying the Redis timeout on every request while Redis is down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the breaker currently does with requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go to Redis.
    Closed,
    /// Redis is skipped until the cool-off ends.
    Open,
    /// The cool-off ended and one probe request is in flight; others still skip Redis.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

/// Opens after `threshold` consecutive failures, skips Redis for `cool_off`, then lets a
/// single probe through: success closes it, failure re-opens it for another cool-off.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_off: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cool_off: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_off,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written (every
        // update is one assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the caller may use Redis now. In the half-open state exactly one caller
    /// gets `true` (the probe) until it reports back.
    pub fn allow(&self) -> bool {
        let mut state = self.lock();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_started: now };
                true
            }
            State::Open { .. } => false,
            // A probe that never reported (its task was cancelled) must not wedge the
            // breaker open forever: after another cool-off, allow a new probe.
            State::HalfOpen { probe_started } if now >= self.after_cool_off(probe_started) => {
                *state = State::HalfOpen { probe_started: now };
                true
            }
            State::HalfOpen { .. } => false,
        }
    }

    fn after_cool_off(&self, from: Instant) -> Instant {
        // An absurd configured cool-off must not panic on Instant overflow.
        from.checked_add(self.cool_off)
            .unwrap_or_else(|| from + Duration::from_secs(365 * 24 * 3600))
    }

    /// Reports a successful Redis call.
    pub fn record_success(&self) {
        let mut state = self.lock();
        if !matches!(*state, State::Closed { failures: 0 }) {
            *state = State::Closed { failures: 0 };
        }
    }

    /// Reports a failed Redis call (timeout or connection error).
    pub fn record_failure(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            State::Open { until } => State::Open { until },
            _ => {
                tracing::warn!(cool_off = ?self.cool_off, "redis circuit breaker opened");
                State::Open {
                    until: self.after_cool_off(now),
                }
            }
        };
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_closes_after_successful_probe() {
        let b = CircuitBreaker::new(3, Duration::from_millis(30));
        b.record_failure();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow(), "probe after cool-off");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(), "only one probe");
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow());
    }

    #[test]
    fn failed_probe_reopens() {
        let b = CircuitBreaker::new(1, Duration::from_millis(20));
        b.record_failure();
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.allow());
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
    }

    #[test]
    fn success_resets_the_failure_count() {
        let b = CircuitBreaker::new(2, Duration::from_secs(60));
        b.record_failure();
        b.record_success();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
