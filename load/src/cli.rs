//! Command-line options and their translation into a run.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::profile::{Profile, ProfileError};
use crate::runner::{self, RunConfig, RunError};
use crate::testdata::{MetroError, Metros};
use crate::threshold;

/// Open-model load test of the roadside-assistance API.
#[derive(Debug, Clone, Parser)]
#[command(name = "load", version, about)]
pub struct Cli {
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

    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
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
    Run(#[from] RunError),
    /// Scale factor out of range.
    #[error("invalid --scale {0}: must be a number in (0, 10]")]
    Scale(f64),
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
        let url = runner::parse_target(&self.host)?;
        if !self.allow_remote && !is_loopback(&url) {
            return Err(CliError::Remote(self.host.clone()));
        }
        runner::parse_headers(&self.headers)?;
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
        })
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
    fn bad_header_is_reported() {
        let e = cli(&["-H", "Authorization Bearer"])
            .unwrap()
            .config()
            .unwrap_err();
        assert!(e.to_string().contains("invalid --header"));
    }
}
