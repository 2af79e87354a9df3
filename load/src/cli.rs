//! Command-line options and their translation into a run.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::calibrate;
use crate::client::{self, ClientError};
use crate::priority::Scheduling;
use crate::profile::{Profile, ProfileError};
use crate::runner::RunConfig;
use crate::testdata::{MetroError, Metros};
use crate::threshold;

/// Longest calibration `--calibrate-s` and `load calibrate --seconds` accept.
const MAX_CALIBRATION_SECONDS: f64 = 600.0;
/// Highest rate `load calibrate --rates` accepts, as for profile files.
const MAX_CALIBRATION_RATE: f64 = 10_000.0;

/// Open-model load test of the roadside-assistance API.
#[derive(Debug, Clone, Parser)]
#[command(name = "load", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// `calibrate`: measure the generator itself; without a subcommand, run a profile.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Base URL of the API.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub host: String,

    /// Built-in profile: smoke (~30 s), full (the production mix, ~12 min), incidents
    /// (1,000 concurrent incident creations).
    #[arg(long, default_value = "smoke", value_parser = ["smoke", "full", "incidents"], conflicts_with = "profile_file")]
    pub profile: String,

    /// TOML profile file (see load/profiles/example.toml) instead of a built-in profile.
    #[arg(long, value_name = "PATH")]
    pub profile_file: Option<PathBuf>,

    /// Multiply every phase duration by this factor (rates unchanged), e.g. 0.1 to
    /// run the full profile's shape in a tenth of the time.
    #[arg(
        long,
        visible_alias = "duration-factor",
        value_name = "FACTOR",
        default_value_t = 1.0
    )]
    pub scale: f64,

    /// Extra request header, `Name: value`; repeatable (e.g. `Authorization: Bearer x`).
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Write the JSON summary here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,

    /// Override the profile's random seed.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Override how many vendors are created before the run (0 skips the set-up).
    #[arg(long, value_name = "N")]
    pub setup_vendors: Option<u32>,

    /// Add or replace a threshold, `SCOPE.METRIC=LIMIT` (repeatable), e.g.
    /// `each.p95_ms=800` or `overall.error_rate=0.02`. Scopes: overall, each or an
    /// endpoint key; metrics: p50_ms, p95_ms, p99_ms, max_ms, mean_ms, error_rate.
    #[arg(long = "threshold", value_name = "RULE")]
    pub thresholds: Vec<String>,

    /// Metro list CSV (name,state,lat,lon,population); default: the embedded
    /// data/us-metros.csv.
    #[arg(long, value_name = "PATH")]
    pub metros: Option<PathBuf>,

    /// Allow a target that is not a loopback address (a deployed stage). Without it
    /// only 127.0.0.1, ::1 and localhost are accepted, so a typo cannot load a
    /// shared environment.
    #[arg(long)]
    pub allow_remote: bool,

    /// Send one request at a time on a separate connection beside the load, this
    /// many milliseconds apart, and report its latency next to the load's per
    /// endpoint (0: no probe).
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub probe_ms: u64,

    /// Before the run, measure the generator against a built-in stub that answers at
    /// once, at the profile's peak rate for this many seconds (its largest burst for
    /// a burst profile); the reports show it beside the measured latency (0: skip).
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub calibrate_s: f64,

    /// Scheduling of the generator's threads: `fifo` (real-time, so that on a busy
    /// machine the tool's wake-ups do not wait for the CPU; falls back to normal
    /// where the OS refuses it) or `normal`. The server keeps its own.
    #[arg(long, value_enum, default_value_t = Scheduling::Fifo)]
    pub sched: Scheduling,

    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Measure the generator's own latency against a built-in loopback stub that
    /// answers at once, at several request rates.
    Calibrate(CalibrateArgs),
}

/// Options of `load calibrate`.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Request rates to measure, per second, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = calibrate::DEFAULT_RATES)]
    pub rates: Vec<f64>,

    /// Length of each rate's run.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub seconds: f64,

    /// Seed of the random choices.
    #[arg(long, default_value_t = 20261129)]
    pub seed: u64,

    /// Write every rate's figures here as JSON.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Scheduling of the generator's and the stub's threads (see the run option).
    #[arg(long, value_enum, default_value_t = Scheduling::Fifo)]
    pub sched: Scheduling,
}

impl CalibrateArgs {
    /// The profile of each rate, checked.
    pub fn profiles(&self) -> Result<Vec<Profile>, CliError> {
        let duration = seconds(self.seconds, "--seconds", false)?;
        self.rates
            .iter()
            .map(|&rate| {
                if rate.is_finite() && rate > 0.0 && rate <= MAX_CALIBRATION_RATE {
                    Ok(calibrate::rate_profile(rate, duration, self.seed))
                } else {
                    Err(CliError::Rate(rate))
                }
            })
            .collect()
    }
}

/// A number of seconds from an option, in (0, 600] (or 0 when `zero_ok`).
fn seconds(value: f64, option: &'static str, zero_ok: bool) -> Result<Duration, CliError> {
    let ok = value.is_finite()
        && value <= MAX_CALIBRATION_SECONDS
        && (value > 0.0 || (zero_ok && value == 0.0));
    if ok {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(CliError::Seconds { option, value })
    }
}

/// Errors turning options into a run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Bad metro list.
    #[error(transparent)]
    Metros(#[from] MetroError),
    /// Bad host or header.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Scale factor out of range.
    #[error("invalid --scale {0}: must be a number in (0, 10]")]
    Scale(f64),
    /// A length in seconds out of range.
    #[error("invalid {option} {value}: must be a number of seconds in (0, 600]")]
    Seconds {
        /// The option.
        option: &'static str,
        /// What was given.
        value: f64,
    },
    /// A calibration rate out of range.
    #[error("invalid --rates value {0}: each rate must be in (0, 10000] per second")]
    Rate(f64),
    /// Malformed `--threshold`.
    #[error("{0}")]
    Threshold(String),
    /// Non-loopback target without `--allow-remote`.
    #[error(
        "refusing to load {0}: not a loopback address; pass --allow-remote to target a deployed stage"
    )]
    Remote(String),
}

/// Whether a URL's host is loopback (127.0.0.0/8, ::1 or `localhost`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts come bracketed (`[::1]`).
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Cli {
    /// Builds the run configuration: loads and scales the profile, checks the target.
    pub fn config(&self) -> Result<RunConfig, CliError> {
        let url = client::parse_target(&self.host)?;
        if !self.allow_remote && !is_loopback(&url) {
            return Err(CliError::Remote(self.host.clone()));
        }
        client::parse_headers(&self.headers)?;
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 10.0) {
            return Err(CliError::Scale(self.scale));
        }
        let mut profile = match &self.profile_file {
            Some(path) => Profile::from_file(path)?,
            None => Profile::builtin(&self.profile)?,
        };
        if self.scale != 1.0 {
            profile = profile.scaled(self.scale);
            profile.name = format!("{} x{}", profile.name, self.scale);
        }
        if let Some(seed) = self.seed {
            profile.seed = seed;
        }
        for rule in &self.thresholds {
            let t = threshold::parse_override(rule).map_err(CliError::Threshold)?;
            threshold::apply_override(&mut profile.thresholds, t);
        }
        if let Some(n) = self.setup_vendors {
            profile.setup_vendors = n;
        }
        let metros = match &self.metros {
            Some(path) => Metros::from_path(path)?,
            None => Metros::embedded()?,
        };
        Ok(RunConfig {
            target: self.host.clone(),
            headers: self.headers.clone(),
            profile,
            metros,
            progress: !self.quiet,
            probe_interval: (self.probe_ms > 0).then(|| Duration::from_millis(self.probe_ms)),
            calibration: None,
        })
    }

    /// How long the run's own calibration lasts; `None` when it is switched off.
    pub fn calibration_length(&self) -> Result<Option<Duration>, CliError> {
        let d = seconds(self.calibrate_s, "--calibrate-s", true)?;
        Ok((!d.is_zero()).then_some(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("load").chain(args.iter().copied()))
    }

    #[test]
    fn documented_form_parses() {
        let c = cli(&["--host", "http://127.0.0.1:3000", "--profile", "smoke"]).unwrap();
        let config = c.config().unwrap();
        assert_eq!(config.profile.name, "smoke");
        assert!(config.progress);
    }

    #[test]
    fn profile_and_file_conflict() {
        assert!(cli(&["--profile", "full", "--profile-file", "x.toml"]).is_err());
        assert!(cli(&["--profile", "medium"]).is_err());
    }

    #[test]
    fn scale_shortens_phases() {
        let c = cli(&["--profile", "full", "--duration-factor", "0.1"]).unwrap();
        let config = c.config().unwrap();
        assert_eq!(config.profile.schedule.duration().as_secs(), 72);
        assert_eq!(config.profile.name, "full x0.1");
        assert!(matches!(
            cli(&["--scale", "0"]).unwrap().config(),
            Err(CliError::Scale(_))
        ));
    }

    #[test]
    fn remote_targets_need_opt_in() {
        let e = cli(&["--host", "https://api.example.com"])
            .unwrap()
            .config()
            .unwrap_err();
        assert!(e.to_string().contains("--allow-remote"));
        assert!(
            cli(&["--host", "https://api.example.com", "--allow-remote"])
                .unwrap()
                .config()
                .is_ok()
        );
        for host in [
            "http://localhost:3000",
            "http://[::1]:3000",
            "http://127.0.0.2",
        ] {
            assert!(cli(&["--host", host]).unwrap().config().is_ok(), "{host}");
        }
    }

    #[test]
    fn threshold_overrides_apply() {
        let c = cli(&[
            "--threshold",
            "each.p95_ms=900",
            "--threshold",
            "overall.error_rate=0.05",
        ])
        .unwrap();
        let t = c.config().unwrap().profile.thresholds;
        assert!(t.contains(&threshold::Threshold::new(
            threshold::Scope::Each,
            threshold::Metric::P95,
            900.0
        )));
        let e = cli(&["--threshold", "each.p95=1"])
            .unwrap()
            .config()
            .unwrap_err();
        assert!(e.to_string().contains("unknown metric `p95`"), "{e}");
    }

    #[test]
    fn calibrate_is_a_subcommand_and_checks_its_values() {
        let c = cli(&["calibrate", "--rates", "15,500", "--seconds", "2"]).unwrap();
        let Some(Command::Calibrate(args)) = &c.command else {
            panic!("no subcommand: {c:?}");
        };
        let profiles = args.profiles().unwrap();
        assert_eq!(profiles.len(), 2);
        assert_eq!(profiles[1].schedule.arrival_count(), 1000);
        let Some(Command::Calibrate(args)) = cli(&["calibrate", "--rates", "0"]).unwrap().command
        else {
            panic!("no subcommand");
        };
        assert!(args.profiles().unwrap_err().to_string().contains("--rates"));
        // Run options belong to runs, not to the subcommand.
        assert!(cli(&["--profile", "smoke", "calibrate"]).is_err());
        let c = cli(&["--calibrate-s=-1"]).unwrap();
        assert!(
            c.calibration_length()
                .unwrap_err()
                .to_string()
                .contains("--calibrate-s")
        );
        assert_eq!(
            cli(&["--calibrate-s", "0"])
                .unwrap()
                .calibration_length()
                .unwrap(),
            None
        );
    }

    #[test]
    fn probe_is_on_by_default() {
        let config = cli(&[]).unwrap().config().unwrap();
        assert_eq!(config.probe_interval, Some(Duration::from_millis(100)));
        let config = cli(&["--probe-ms", "0"]).unwrap().config().unwrap();
        assert_eq!(config.probe_interval, None);
    }

    #[test]
    fn bad_header_is_reported() {
        let e = cli(&["-H", "Authorization Bearer"])
            .unwrap()
            .config()
            .unwrap_err();
        assert!(e.to_string().contains("invalid --header"));
    }
}
