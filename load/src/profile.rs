//! Run profiles: the built-in `smoke`, `full` and `incidents`, and TOML profile files.
//!
//! A profile is everything that decides what a run does (phases, traffic mix,
//! thresholds, limits); the target and the reports come from the command line.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::scenario::{self, Scenario, ScenarioMix, Step};
use crate::schedule::{Phase, Schedule};
use crate::threshold::{self, Metric, Scope, Threshold};

/// Names of the built-in profiles.
pub const BUILTIN: [&str; 3] = ["smoke", "full", "incidents"];

/// Upper bounds that keep a typo in a profile file from starting an endless or
/// unbounded run.
const MAX_RATE: f64 = 10_000.0;
const MAX_PHASE_SECONDS: f64 = 86_400.0;
const MAX_BURST: u64 = 100_000;
const MAX_ARRIVALS: u64 = 10_000_000;
const MAX_THINK_MS: u64 = 600_000;
const MAX_TIMEOUT_MS: u64 = 600_000;

/// A complete description of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Name shown in reports.
    pub name: String,
    /// Arrival phases.
    pub schedule: Schedule,
    /// Weighted flows.
    pub scenarios: Vec<Scenario>,
    /// Pass/fail rules.
    pub thresholds: Vec<Threshold>,
    /// Seed of every random choice (scenario, coordinates, think times).
    pub seed: u64,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Flows allowed in flight at once; arrivals beyond it are dropped and counted.
    pub max_in_flight: usize,
    /// A start later than this after its scheduled time counts as late.
    pub late_limit: Duration,
    /// Vendors created (unmeasured) before the run so searches find something.
    pub setup_vendors: u32,
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Unknown built-in name.
    #[error("unknown profile `{0}`; allowed: smoke, full, incidents")]
    UnknownBuiltin(String),
    /// The file could not be read.
    #[error("cannot read profile file {path}: {source}")]
    Read {
        /// Path of the file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{path}: {message}")]
    Syntax {
        /// Path of the file (with line and column when known).
        path: String,
        /// What the TOML parser said, including expected keys or types.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// Path of the file.
        path: String,
        /// Dotted key of the bad value, e.g. `phases[1].rate`.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl Profile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        match name {
            "smoke" => Ok(smoke()),
            "full" => Ok(full()),
            "incidents" => Ok(incidents()),
            other => Err(ProfileError::UnknownBuiltin(other.to_string())),
        }
    }

    /// Reads and validates a TOML profile file.
    pub fn from_file(path: &Path) -> Result<Self, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_toml(&text, &shown)
    }

    /// Parses and validates profile TOML; `path` only appears in error messages.
    pub fn from_toml(text: &str, path: &str) -> Result<Self, ProfileError> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| syntax_error(text, path, &e))?;
        raw.build(path)
    }

    /// The same profile with phase durations multiplied by `factor` (rates kept).
    pub fn scaled(mut self, factor: f64) -> Self {
        self.schedule = self.schedule.scaled(factor);
        self
    }

    /// The weighted mix of this profile's scenarios.
    pub fn mix(&self) -> Option<ScenarioMix> {
        ScenarioMix::new(self.scenarios.clone())
    }
}

fn syntax_error(text: &str, path: &str, e: &toml::de::Error) -> ProfileError {
    let location = e
        .span()
        .map(|span| {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(":{line}:{col}")
        })
        .unwrap_or_default();
    ProfileError::Syntax {
        path: format!("{path}{location}"),
        message: e.message().trim().to_string(),
    }
}

const SMOKE_THINK: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(500));
const FULL_THINK: (Duration, Duration) = (Duration::from_millis(500), Duration::from_millis(2000));

/// About 30 s at 5 to 30 flows/s with all four scenarios: enough to see every route
/// answer under light concurrency, short enough for CI.
fn smoke() -> Profile {
    Profile {
        name: "smoke".into(),
        schedule: Schedule::new(vec![
            Phase::ramp("warm-up", Duration::from_secs(5), 5.0, 20.0),
            Phase::constant("steady", Duration::from_secs(20), 30.0),
            Phase::constant("cool-down", Duration::from_secs(5), 10.0),
        ]),
        scenarios: scenario::default_scenarios(SMOKE_THINK),
        thresholds: threshold::api_defaults(),
        seed: 20261129,
        request_timeout: Duration::from_secs(10),
        max_in_flight: 1000,
        late_limit: Duration::from_millis(100),
        setup_vendors: 200,
    }
}

/// The previous suite's phases: warm-up, ramp, sustained, peak, spike, cool-down.
fn full() -> Profile {
    Profile {
        name: "full".into(),
        schedule: Schedule::new(vec![
            Phase::constant("warm-up", Duration::from_secs(60), 10.0),
            Phase::ramp("ramp", Duration::from_secs(120), 10.0, 50.0),
            Phase::constant("sustained", Duration::from_secs(300), 100.0),
            Phase::constant("peak", Duration::from_secs(120), 200.0),
            Phase::constant("spike", Duration::from_secs(60), 500.0),
            Phase::constant("cool-down", Duration::from_secs(60), 10.0),
        ]),
        scenarios: scenario::default_scenarios(FULL_THINK),
        thresholds: threshold::api_defaults(),
        seed: 20261129,
        request_timeout: Duration::from_secs(30),
        max_in_flight: 5000,
        late_limit: Duration::from_millis(100),
        setup_vendors: 500,
    }
}

/// 1,000 incident creations started at the same instant.
fn incidents() -> Profile {
    Profile {
        name: "incidents".into(),
        schedule: Schedule::new(vec![Phase::burst(
            "concurrent-incidents",
            1000,
            Duration::ZERO,
        )]),
        scenarios: vec![Scenario {
            name: "incident".into(),
            weight: 1,
            steps: vec![Step::Request(scenario::Endpoint::CreateIncident)],
        }],
        thresholds: threshold::incident_defaults(),
        seed: 20261129,
        request_timeout: Duration::from_secs(60),
        max_in_flight: 2000,
        late_limit: Duration::from_millis(1000),
        setup_vendors: 300,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<String>,
    base: Option<String>,
    seed: Option<u64>,
    request_timeout_ms: Option<u64>,
    max_in_flight: Option<u64>,
    late_limit_ms: Option<u64>,
    setup_vendors: Option<u32>,
    think_ms: Option<[u64; 2]>,
    phases: Option<Vec<RawPhase>>,
    scenarios: Option<Vec<RawScenario>>,
    thresholds: Option<BTreeMap<String, RawLimits>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    name: Option<String>,
    duration_s: Option<f64>,
    rate: Option<f64>,
    from: Option<f64>,
    to: Option<f64>,
    burst: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    weight: u32,
    steps: Vec<String>,
    think_ms: Option<[u64; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    mean_ms: Option<f64>,
    error_rate: Option<f64>,
}

impl RawProfile {
    fn build(self, path: &str) -> Result<Profile, ProfileError> {
        let invalid = |key: &str, message: String| ProfileError::Invalid {
            path: path.to_string(),
            key: key.to_string(),
            message,
        };
        let mut profile = match &self.base {
            Some(base) => Profile::builtin(base).map_err(|_| {
                invalid(
                    "base",
                    format!("unknown profile `{base}`; allowed: smoke, full, incidents"),
                )
            })?,
            None => Profile {
                name: String::new(),
                schedule: Schedule::new(Vec::new()),
                scenarios: scenario::default_scenarios(SMOKE_THINK),
                thresholds: threshold::api_defaults(),
                ..smoke()
            },
        };
        profile.name = match self.name {
            Some(name) if !name.trim().is_empty() => name,
            Some(_) => return Err(invalid("name", "must not be empty".into())),
            None => Path::new(path).file_stem().map_or_else(
                || "custom".to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
        };
        if let Some(seed) = self.seed {
            profile.seed = seed;
        }
        if let Some(ms) = self.request_timeout_ms {
            if ms == 0 || ms > MAX_TIMEOUT_MS {
                return Err(invalid(
                    "request_timeout_ms",
                    format!("must be in 1..={MAX_TIMEOUT_MS}, got {ms}"),
                ));
            }
            profile.request_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = self.max_in_flight {
            if n == 0 || n > 100_000 {
                return Err(invalid(
                    "max_in_flight",
                    format!("must be in 1..=100000, got {n}"),
                ));
            }
            profile.max_in_flight = n as usize;
        }
        if let Some(ms) = self.late_limit_ms {
            if ms > MAX_THINK_MS {
                return Err(invalid(
                    "late_limit_ms",
                    format!("must be at most {MAX_THINK_MS}, got {ms}"),
                ));
            }
            profile.late_limit = Duration::from_millis(ms);
        }
        if let Some(n) = self.setup_vendors {
            if n > 100_000 {
                return Err(invalid(
                    "setup_vendors",
                    format!("must be at most 100000, got {n}"),
                ));
            }
            profile.setup_vendors = n;
        }
        let default_think = match self.think_ms {
            Some(range) => think_range("think_ms", range).map_err(|m| invalid("think_ms", m))?,
            None => SMOKE_THINK,
        };
        if let Some(phases) = self.phases {
            let phases = phases
                .into_iter()
                .enumerate()
                .map(|(i, p)| p.build(i).map_err(|(key, message)| invalid(&key, message)))
                .collect::<Result<Vec<_>, _>>()?;
            profile.schedule = Schedule::new(phases);
        }
        if profile.schedule.phases.is_empty() {
            return Err(invalid(
                "phases",
                "at least one [[phases]] entry is required (or `base = \"smoke\" | \"full\" | \"incidents\"`)".into(),
            ));
        }
        let total = profile.schedule.arrival_count();
        if total > MAX_ARRIVALS {
            return Err(invalid(
                "phases",
                format!("{total} arrivals in total; at most {MAX_ARRIVALS} allowed"),
            ));
        }
        match self.scenarios {
            Some(raw) => {
                let mut scenarios = Vec::new();
                for (i, s) in raw.into_iter().enumerate() {
                    let built = s
                        .build(i, default_think)
                        .map_err(|(key, message)| invalid(&key, message))?;
                    if scenarios.iter().any(|o: &Scenario| o.name == built.name) {
                        return Err(invalid(
                            &format!("scenarios[{i}].name"),
                            format!("duplicate name `{}`", built.name),
                        ));
                    }
                    scenarios.push(built);
                }
                if ScenarioMix::new(scenarios.clone()).is_none() {
                    return Err(invalid(
                        "scenarios",
                        "at least one scenario needs a weight above 0".into(),
                    ));
                }
                profile.scenarios = scenarios;
            }
            // A think range without scenarios applies to the default mix.
            None if self.think_ms.is_some() => {
                profile.scenarios = scenario::default_scenarios(default_think)
            }
            None => {}
        }
        if let Some(table) = self.thresholds {
            let mut thresholds = Vec::new();
            for (scope_key, limits) in table {
                let scope = Scope::parse(&scope_key).ok_or_else(|| {
                    invalid(
                        &format!("thresholds.{scope_key}"),
                        format!("unknown scope; allowed: {}", Scope::allowed_keys()),
                    )
                })?;
                thresholds.extend(limits.build(scope).map_err(|(metric, message)| {
                    invalid(&format!("thresholds.{scope_key}.{metric}"), message)
                })?);
            }
            profile.thresholds = thresholds;
        }
        Ok(profile)
    }
}

fn think_range(key: &str, [min, max]: [u64; 2]) -> Result<(Duration, Duration), String> {
    if min > max || max > MAX_THINK_MS {
        return Err(format!(
            "{key} must be [min, max] with min <= max <= {MAX_THINK_MS}, got [{min}, {max}]"
        ));
    }
    Ok((Duration::from_millis(min), Duration::from_millis(max)))
}

impl RawPhase {
    fn build(self, i: usize) -> Result<Phase, (String, String)> {
        let key = |k: &str| format!("phases[{i}].{k}");
        let name = self.name.unwrap_or_else(|| format!("phase-{}", i + 1));
        let seconds = match self.duration_s {
            Some(s) if s.is_finite() && (0.0..=MAX_PHASE_SECONDS).contains(&s) => s,
            Some(s) => {
                return Err((
                    key("duration_s"),
                    format!("must be in 0..={MAX_PHASE_SECONDS} seconds, got {s}"),
                ));
            }
            None if self.burst.is_some() => 0.0,
            None => return Err((key("duration_s"), "is required for a rate phase".into())),
        };
        let duration = Duration::from_secs_f64(seconds);
        let check_rate = |k: &str, v: f64| {
            if v.is_finite() && (0.0..=MAX_RATE).contains(&v) {
                Ok(v)
            } else {
                Err((
                    key(k),
                    format!("must be a rate in 0..={MAX_RATE} per second, got {v}"),
                ))
            }
        };
        let shape = "exactly one of `rate`, `from` + `to`, or `burst`";
        match (self.rate, self.from, self.to, self.burst) {
            (Some(rate), None, None, None) => {
                Ok(Phase::constant(&name, duration, check_rate("rate", rate)?))
            }
            (None, Some(from), Some(to), None) => Ok(Phase::ramp(
                &name,
                duration,
                check_rate("from", from)?,
                check_rate("to", to)?,
            )),
            (None, None, None, Some(count)) => {
                if count == 0 || count > MAX_BURST {
                    return Err((
                        key("burst"),
                        format!("must be in 1..={MAX_BURST}, got {count}"),
                    ));
                }
                Ok(Phase::burst(&name, count, duration))
            }
            (None, Some(_), None, None) => {
                Err((key("to"), format!("a ramp needs `to` as well; {shape}")))
            }
            (None, None, Some(_), None) => {
                Err((key("from"), format!("a ramp needs `from` as well; {shape}")))
            }
            _ => Err((format!("phases[{i}]"), format!("needs {shape}"))),
        }
    }
}

impl RawScenario {
    fn build(
        self,
        i: usize,
        default_think: (Duration, Duration),
    ) -> Result<Scenario, (String, String)> {
        let key = |k: &str| format!("scenarios[{i}].{k}");
        if self.name.trim().is_empty() {
            return Err((key("name"), "must not be empty".into()));
        }
        let think = match self.think_ms {
            Some(range) => think_range("think_ms", range).map_err(|m| (key("think_ms"), m))?,
            None => default_think,
        };
        if self.steps.is_empty() {
            return Err((
                key("steps"),
                format!(
                    "needs at least one step; allowed: {}",
                    Step::NAMES.join(", ")
                ),
            ));
        }
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(j, name)| {
                Step::from_name(name, think).ok_or_else(|| {
                    (
                        key(&format!("steps[{j}]")),
                        format!("unknown step `{name}`; allowed: {}", Step::NAMES.join(", ")),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scenario = Scenario {
            name: self.name,
            weight: self.weight,
            steps,
        };
        scenario
            .validate()
            .map_err(|e| (key(&format!("steps[{}]", e.index)), e.to_string()))?;
        Ok(scenario)
    }
}

impl RawLimits {
    fn build(self, scope: Scope) -> Result<Vec<Threshold>, (String, String)> {
        let given = [
            (self.p50_ms, Metric::P50),
            (self.p95_ms, Metric::P95),
            (self.p99_ms, Metric::P99),
            (self.max_ms, Metric::Max),
            (self.mean_ms, Metric::Mean),
            (self.error_rate, Metric::ErrorRate),
        ];
        let mut out = Vec::new();
        for (value, metric) in given {
            if let Some(v) = value {
                let limit = metric
                    .check_limit(v)
                    .map_err(|m| (metric.key().to_string(), m))?;
                out.push(Threshold::new(scope, metric, limit));
            }
        }
        if out.is_empty() {
            return Err((
                "*".into(),
                format!("no limit given; allowed: {}", Metric::allowed_keys()),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Endpoint;
    use crate::schedule::Arrivals;

    fn err(text: &str) -> String {
        Profile::from_toml(text, "p.toml").unwrap_err().to_string()
    }

    #[test]
    fn builtins_match_the_seed() {
        let full = Profile::builtin("full").unwrap();
        let rates: Vec<(u64, Arrivals)> = full
            .schedule
            .phases
            .iter()
            .map(|p| (p.duration.as_secs(), p.arrivals.clone()))
            .collect();
        assert_eq!(
            rates[0],
            (
                60,
                Arrivals::Rate {
                    from: 10.0,
                    to: 10.0
                }
            )
        );
        assert_eq!(
            rates[1],
            (
                120,
                Arrivals::Rate {
                    from: 10.0,
                    to: 50.0
                }
            )
        );
        assert_eq!(
            rates[4],
            (
                60,
                Arrivals::Rate {
                    from: 500.0,
                    to: 500.0
                }
            )
        );
        assert_eq!(
            full.scenarios.iter().map(|s| s.weight).collect::<Vec<_>>(),
            [40, 30, 20, 10]
        );
        let smoke = Profile::builtin("smoke").unwrap();
        assert!(smoke.schedule.duration() < Duration::from_secs(60));
        assert_eq!(smoke.scenarios.len(), 4);
        let incidents = Profile::builtin("incidents").unwrap();
        assert_eq!(incidents.schedule.arrival_count(), 1000);
        assert!(
            Profile::builtin("nope")
                .unwrap_err()
                .to_string()
                .contains("allowed: smoke, full, incidents")
        );
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../profiles/example.toml");
        let p = Profile::from_toml(text, "example.toml").unwrap();
        assert_eq!(p.name, "example");
        assert!(!p.schedule.phases.is_empty());
        assert!(p.mix().is_some());
    }

    #[test]
    fn full_file_is_read() {
        let p = Profile::from_toml(
            r#"
            name = "lunch"
            seed = 9
            request_timeout_ms = 2000
            max_in_flight = 50
            setup_vendors = 3
            [[phases]]
            duration_s = 2
            rate = 5
            [[phases]]
            name = "up"
            duration_s = 4
            from = 1
            to = 3
            [[phases]]
            burst = 7
            [[scenarios]]
            name = "read-back"
            weight = 3
            steps = ["create_incident", "think", "get_incident"]
            think_ms = [0, 10]
            [thresholds.get_incident]
            p99_ms = 250
            [thresholds.overall]
            error_rate = 0.05
            "#,
            "lunch.toml",
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.seed, p.max_in_flight, p.setup_vendors),
            ("lunch", 9, 50, 3)
        );
        assert_eq!(p.request_timeout, Duration::from_secs(2));
        assert_eq!(p.schedule.arrival_count(), 10 + 8 + 7);
        assert_eq!(p.schedule.phases[0].name, "phase-1");
        assert_eq!(p.scenarios.len(), 1);
        assert_eq!(
            p.thresholds,
            vec![
                Threshold::new(Scope::Endpoint(Endpoint::GetIncident), Metric::P99, 250.0),
                Threshold::new(Scope::Overall, Metric::ErrorRate, 0.05),
            ]
        );
    }

    #[test]
    fn base_profile_is_inherited() {
        let p = Profile::from_toml("base = \"full\"\nname = \"f2\"\n", "f2.toml").unwrap();
        assert_eq!(p.schedule, Profile::builtin("full").unwrap().schedule);
        assert_eq!(p.name, "f2");
    }

    #[test]
    fn errors_name_file_key_and_allowed_values() {
        assert_eq!(
            err(
                "[[phases]]\nduration_s = 1\nrate = 1\n[[scenarios]]\nname = \"x\"\nweight = 1\nsteps = [\"fly\"]\n"
            ),
            "p.toml: `scenarios[0].steps[0]`: unknown step `fly`; allowed: create_incident, get_incident, \
             search_vendors, get_vendor, update_location, think"
        );
        assert_eq!(
            err("base = \"huge\""),
            "p.toml: `base`: unknown profile `huge`; allowed: smoke, full, incidents"
        );
        let e = err("base = \"smoke\"\n[thresholds.everything]\np95_ms = 1\n");
        assert!(e.starts_with("p.toml: `thresholds.everything`: unknown scope; allowed: overall, each, create_incident"), "{e}");
        let e = err("base = \"smoke\"\n[thresholds.overall]\np96_ms = 1\n");
        assert!(
            e.starts_with("p.toml:3:1: unknown field `p96_ms`, expected one of"),
            "{e}"
        );
        assert!(e.contains("`p95_ms`"), "{e}");
        let e = err("[[phases]]\nduration_s = 10\nrate = 1e9\n");
        assert_eq!(
            e,
            "p.toml: `phases[0].rate`: must be a rate in 0..=10000 per second, got 1000000000"
        );
        let e = err("[[phases]]\nduration_s = 10\nrate = 1\nburst = 3\n");
        assert_eq!(
            e,
            "p.toml: `phases[0]`: needs exactly one of `rate`, `from` + `to`, or `burst`"
        );
        let e = err("[[phases]]\nduration_s = 10\nfrom = 1\n");
        assert!(
            e.starts_with("p.toml: `phases[0].to`: a ramp needs `to`"),
            "{e}"
        );
        let e = err("seed = \"x\"");
        assert!(
            e.starts_with("p.toml:1:8: invalid type: string \"x\", expected u64"),
            "{e}"
        );
        let e = err("name = \"x\"");
        assert!(
            e.starts_with("p.toml: `phases`: at least one [[phases]] entry is required"),
            "{e}"
        );
        let e = err(
            "base = \"smoke\"\n[[scenarios]]\nname = \"x\"\nweight = 1\nsteps = [\"get_vendor\"]\n",
        );
        assert_eq!(
            e,
            "p.toml: `scenarios[0].steps[0]`: step 0 (`get_vendor`) needs `vendorId`, captured by an earlier \
             `search_vendors` step"
        );
        let e = err(
            "base = \"smoke\"\n[[scenarios]]\nname = \"x\"\nweight = 0\nsteps = [\"search_vendors\"]\n",
        );
        assert_eq!(
            e,
            "p.toml: `scenarios`: at least one scenario needs a weight above 0"
        );
        let e = err("base = \"smoke\"\n[thresholds.overall]\nerror_rate = 5\n");
        assert!(
            e.starts_with("p.toml: `thresholds.overall.error_rate`: must be a fraction"),
            "{e}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = Profile::from_file(Path::new("/nonexistent/x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read profile file /nonexistent/x.toml"),
            "{e}"
        );
    }
}
