//! Arrival schedule of an open-model run.
//!
//! Requests start at precomputed instants, whatever the server does. A closed model
//! (N users looping) slows its own request rate when the server slows down and so
//! hides the latency users would see (coordinated omission); an arrival schedule
//! does not.
//!
//! Arrivals are evenly spaced on the cumulative-rate curve: the k-th arrival of a
//! phase happens when the integral of the rate from the phase start reaches k. A
//! phase therefore starts `ceil(integral)` arrivals, which is the integral within 1.

use std::time::Duration;

/// How a phase starts its arrivals.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// A rate that moves linearly from `from` to `to` arrivals per second over the
    /// phase (constant when both are equal).
    Rate {
        /// Rate at the start of the phase, per second.
        from: f64,
        /// Rate at the end of the phase, per second.
        to: f64,
    },
    /// `count` arrivals all at the start of the phase (a concurrency test).
    Burst {
        /// Number of simultaneous arrivals.
        count: u64,
    },
}

/// One phase of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Name shown in progress lines and reports.
    pub name: String,
    /// Length of the phase; the next phase starts after it.
    pub duration: Duration,
    /// Arrival pattern.
    pub arrivals: Arrivals,
}

impl Phase {
    /// A constant-rate phase.
    pub fn constant(name: &str, duration: Duration, rate: f64) -> Self {
        Self::ramp(name, duration, rate, rate)
    }

    /// A linearly ramping phase.
    pub fn ramp(name: &str, duration: Duration, from: f64, to: f64) -> Self {
        Self {
            name: name.to_string(),
            duration,
            arrivals: Arrivals::Rate { from, to },
        }
    }

    /// A burst of `count` simultaneous arrivals, followed by `duration` of quiet.
    pub fn burst(name: &str, count: u64, duration: Duration) -> Self {
        Self {
            name: name.to_string(),
            duration,
            arrivals: Arrivals::Burst { count },
        }
    }

    /// Integral of the rate over the phase: the expected number of arrivals.
    pub fn expected_arrivals(&self) -> f64 {
        match self.arrivals {
            Arrivals::Rate { from, to } => (from + to) / 2.0 * self.duration.as_secs_f64(),
            Arrivals::Burst { count } => count as f64,
        }
    }

    /// Exact number of arrivals this phase starts.
    pub fn arrival_count(&self) -> u64 {
        match self.arrivals {
            Arrivals::Rate { .. } => {
                let expected = self.expected_arrivals();
                // Arrivals at k with offset < duration: k < expected, so ceil(expected).
                // The tiny tolerance keeps 10/s * 3 s from becoming 31 through rounding.
                let rounded = expected.round();
                if (expected - rounded).abs() < 1e-9 {
                    rounded as u64
                } else {
                    expected.ceil() as u64
                }
            }
            Arrivals::Burst { count } => count,
        }
    }

    /// Offset of the k-th arrival (0-based) from the phase start.
    pub fn arrival_offset(&self, k: u64) -> Duration {
        match self.arrivals {
            Arrivals::Burst { .. } => Duration::ZERO,
            Arrivals::Rate { from, to } => {
                let d = self.duration.as_secs_f64();
                if d <= 0.0 || k == 0 {
                    return Duration::ZERO;
                }
                // Solve from*t + c*t^2 = k with c = (to - from) / (2d). The form
                // 2k / (a + sqrt(a^2 + 4ck)) avoids cancellation for c near 0 and
                // works for ramps both up and down.
                let a = from;
                let c = (to - from) / (2.0 * d);
                let k = k as f64;
                let disc = (a * a + 4.0 * c * k).max(0.0);
                let denom = a + disc.sqrt();
                let t = if denom > 0.0 { 2.0 * k / denom } else { d };
                Duration::from_secs_f64(t.clamp(0.0, d))
            }
        }
    }

    /// Instantaneous rate at `offset` into the phase (for progress lines).
    pub fn rate_at(&self, offset: Duration) -> f64 {
        match self.arrivals {
            Arrivals::Burst { .. } => 0.0,
            Arrivals::Rate { from, to } => {
                let d = self.duration.as_secs_f64();
                if d <= 0.0 {
                    return from;
                }
                let f = (offset.as_secs_f64() / d).clamp(0.0, 1.0);
                from + (to - from) * f
            }
        }
    }
}

/// One scheduled start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Index of the phase in the schedule.
    pub phase: usize,
    /// Offset from the start of the run.
    pub at: Duration,
}

/// The phases of a run, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Phases in execution order.
    pub phases: Vec<Phase>,
}

impl Schedule {
    /// A schedule over `phases`.
    pub fn new(phases: Vec<Phase>) -> Self {
        Self { phases }
    }

    /// Offset of each phase start from the run start.
    pub fn phase_starts(&self) -> Vec<Duration> {
        let mut at = Duration::ZERO;
        self.phases
            .iter()
            .map(|p| {
                let start = at;
                at += p.duration;
                start
            })
            .collect()
    }

    /// Total length of the schedule.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Total number of arrivals.
    pub fn arrival_count(&self) -> u64 {
        self.phases.iter().map(Phase::arrival_count).sum()
    }

    /// Index of the phase running at `offset` (the last phase after the end).
    pub fn phase_at(&self, offset: Duration) -> usize {
        let starts = self.phase_starts();
        starts
            .iter()
            .rposition(|&s| s <= offset)
            .unwrap_or(0)
            .min(self.phases.len().saturating_sub(1))
    }

    /// Every arrival in time order, computed lazily (the full profile has ~90 000).
    pub fn iter(&self) -> impl Iterator<Item = Arrival> + '_ {
        self.phases
            .iter()
            .zip(self.phase_starts())
            .enumerate()
            .flat_map(|(index, (phase, start))| {
                (0..phase.arrival_count()).map(move |k| Arrival {
                    phase: index,
                    at: start + phase.arrival_offset(k),
                })
            })
    }

    /// The same schedule with every phase duration multiplied by `factor`; rates are
    /// kept, so a shortened full profile still reaches its peak rates.
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            phases: self
                .phases
                .iter()
                .map(|p| Phase {
                    duration: Duration::from_secs_f64(p.duration.as_secs_f64() * factor),
                    ..p.clone()
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn assert_count_matches_integral(phase: &Phase) {
        let count = phase.arrival_count() as f64;
        let integral = phase.expected_arrivals();
        assert!(
            (count - integral).abs() <= 1.0,
            "{phase:?}: {count} vs {integral}"
        );
        let schedule = Schedule::new(vec![phase.clone()]);
        assert_eq!(schedule.iter().count() as u64, phase.arrival_count());
    }

    #[test]
    fn constant_phase_count_is_rate_times_duration() {
        let phase = Phase::constant("c", secs(60), 10.0);
        assert_eq!(phase.arrival_count(), 600);
        assert_count_matches_integral(&phase);
        assert_count_matches_integral(&Phase::constant("odd", Duration::from_millis(2500), 3.3));
    }

    #[test]
    fn constant_phase_is_evenly_spaced() {
        let phase = Phase::constant("c", secs(2), 4.0);
        let at: Vec<f64> = Schedule::new(vec![phase])
            .iter()
            .map(|a| a.at.as_secs_f64())
            .collect();
        let expected = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75];
        assert_eq!(at.len(), expected.len());
        for (a, e) in at.iter().zip(expected) {
            assert!((a - e).abs() < 1e-9, "{a} vs {e}");
        }
    }

    #[test]
    fn ramp_count_is_integral_of_rate() {
        for (from, to, d) in [
            (10.0, 50.0, 120),
            (50.0, 10.0, 120),
            (0.0, 7.0, 13),
            (3.0, 3.5, 9),
            (1.0, 0.0, 5),
        ] {
            assert_count_matches_integral(&Phase::ramp("r", secs(d), from, to));
        }
        assert_eq!(
            Phase::ramp("r", secs(120), 10.0, 50.0).arrival_count(),
            3600
        );
    }

    #[test]
    fn ramp_arrivals_densify_as_rate_grows() {
        let phase = Phase::ramp("r", secs(100), 1.0, 10.0);
        let schedule = Schedule::new(vec![phase.clone()]);
        let first_half = schedule.iter().filter(|a| a.at < secs(50)).count() as f64;
        // Integral over the first half: (1 + 5.5) / 2 * 50 = 162.5.
        assert!((first_half - 162.5).abs() <= 1.0, "{first_half}");
        let offsets: Vec<Duration> = schedule.iter().map(|a| a.at).collect();
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        assert!(offsets.iter().all(|&o| o < secs(100)));
    }

    #[test]
    fn phases_follow_each_other() {
        let schedule = Schedule::new(vec![
            Phase::constant("a", secs(2), 1.0),
            Phase::burst("b", 5, secs(1)),
            Phase::constant("c", secs(1), 2.0),
        ]);
        let arrivals: Vec<Arrival> = schedule.iter().collect();
        assert_eq!(arrivals.len(), 2 + 5 + 2);
        assert_eq!(
            arrivals[2],
            Arrival {
                phase: 1,
                at: secs(2)
            }
        );
        assert_eq!(
            arrivals[6],
            Arrival {
                phase: 1,
                at: secs(2)
            }
        );
        assert_eq!(
            arrivals[7],
            Arrival {
                phase: 2,
                at: secs(3)
            }
        );
        assert_eq!(schedule.duration(), secs(4));
        assert_eq!(schedule.phase_at(Duration::from_millis(2500)), 1);
        assert_eq!(schedule.phase_at(secs(10)), 2);
    }

    #[test]
    fn zero_rate_phase_is_a_pause() {
        assert_eq!(Phase::constant("pause", secs(10), 0.0).arrival_count(), 0);
    }

    #[test]
    fn scaling_keeps_rates() {
        let schedule = Schedule::new(vec![Phase::constant("a", secs(100), 10.0)]).scaled(0.1);
        assert_eq!(schedule.duration(), secs(10));
        assert_eq!(schedule.arrival_count(), 100);
    }
}
