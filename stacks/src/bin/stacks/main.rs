//! The `stacks` command: synthesizes, checks and deploys the CloudFormation templates of
//! roadcall-perf.
//!
//! The binary is thin: each command parses its arguments, calls the library and prints.
//! The AWS commands' side of that (arguments, prompts, progress) is in `deploy`, built
//! with the `aws` feature only: synth, check, rules and list need no AWS SDK, and most of
//! a fresh build's time would go to compiling it.

#[cfg(feature = "aws")]
mod deploy;

#[cfg(not(feature = "aws"))]
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use stacks::{app, config, synth};

/// cfn-guard allocates and frees small value trees at a high rate; glibc's malloc made it
/// a third of `stacks check`'s time (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Renders the CloudFormation of roadcall-perf's caching and performance layer.
#[derive(Debug, Parser)]
#[command(
    name = "stacks",
    version,
    about,
    after_help = "The AWS commands (deploy, diff, destroy, outputs, status, invalidate, \
                  flush-appsync) are built with the `aws` feature: \
                  cargo run -p stacks --features aws -- deploy --stage dev"
)]
struct Cli {
    /// Directory of the stage files (`<stage>.toml`) [default: `stacks/stages` in the
    /// working directory or the nearest parent that has one].
    #[arg(long, global = true, value_name = "DIR")]
    stages_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write every stack of a stage to `<out>/<stage>/<StackName>.template.json`.
    Synth {
        /// The stage to render (a file in the stages directory).
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        stage: Option<String>,
        /// Render every stage.
        #[arg(long)]
        all: bool,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Template format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
        format: OutputFormat,
    },
    /// Check every stack of a stage against the security and best-practice rules; exit 1
    /// on any unsuppressed error.
    Check {
        /// The stage to check.
        #[arg(long, required_unless_present_any = ["all", "template"], conflicts_with = "all")]
        stage: Option<String>,
        /// Check every stage.
        #[arg(long)]
        all: bool,
        /// Only this stack (e.g. `redis` or `roadcall-perf-dev-redis`).
        #[arg(long)]
        stack: Option<String>,
        /// Print findings as JSON.
        #[arg(long)]
        json: bool,
        /// Check these template files (JSON or YAML) instead of a stage's stacks.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["stage", "all", "stack"])]
        template: Vec<PathBuf>,
    },
    /// List the rules `check` applies.
    Rules,
    /// List the stages and their stacks in deployment order.
    List,
    /// Check, then deploy a stage's stacks through change sets, following their events.
    #[cfg(feature = "aws")]
    Deploy(deploy::DeployArgs),
    /// Compare the deployed templates with the synthesized ones.
    #[cfg(feature = "aws")]
    Diff(deploy::DiffArgs),
    /// Delete a stage's stacks, in reverse dependency order, after a confirmation.
    #[cfg(feature = "aws")]
    Destroy(deploy::DestroyArgs),
    /// Print the outputs of a stage's deployed stacks.
    #[cfg(feature = "aws")]
    Outputs(deploy::OutputsArgs),
    /// Stack status, and what ElastiCache, DAX, CloudFront, AppSync and EventBridge report.
    #[cfg(feature = "aws")]
    Status(deploy::OutputsArgs),
    /// Create a CloudFront invalidation on the stage's distribution.
    #[cfg(feature = "aws")]
    Invalidate(deploy::InvalidateArgs),
    /// Flush the stage's AppSync API cache.
    #[cfg(feature = "aws")]
    FlushAppsync(deploy::FlushArgs),
    /// A command this build leaves out (the AWS commands without the `aws` feature).
    #[cfg(not(feature = "aws"))]
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// The commands that talk to AWS, built only with the `aws` feature.
#[cfg(not(feature = "aws"))]
const AWS_COMMANDS: &[&str] = &[
    "deploy",
    "diff",
    "destroy",
    "outputs",
    "status",
    "invalidate",
    "flush-appsync",
];

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    Json,
    Yaml,
}

impl From<OutputFormat> for cfn::Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Json => cfn::Format::Json,
            OutputFormat::Yaml => cfn::Format::Yaml,
        }
    }
}

fn stages_to_run(
    cli_dir: &std::path::Path,
    stage: Option<String>,
    all: bool,
) -> anyhow::Result<Vec<String>> {
    if all {
        let stages = config::list_stages(cli_dir)?;
        anyhow::ensure!(
            !stages.is_empty(),
            "no stage files (*.toml) in {}",
            cli_dir.display()
        );
        Ok(stages)
    } else {
        Ok(stage.into_iter().collect())
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    // Found only by the commands that read stage files: `rules` and `check --template`
    // work anywhere.
    let stages_dir = || -> anyhow::Result<PathBuf> {
        match &cli.stages_dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(config::find_stages_dir(&std::env::current_dir()?)?),
        }
    };
    match cli.command {
        Command::Synth {
            stage,
            all,
            out,
            format,
        } => {
            // Load and build every requested stage before writing anything.
            let mut built = Vec::new();
            let stages_dir = stages_dir()?;
            for stage in stages_to_run(&stages_dir, stage, all)? {
                let config = config::load_stage(&stages_dir, &stage)?;
                let stacks =
                    app::build_stage(&config).with_context(|| format!("building stage {stage}"))?;
                built.push((stage, stacks));
            }
            for (stage, stacks) in &built {
                let written = synth::write_stage(stacks, &out.join(stage), format.into())?;
                for path in written {
                    writeln!(stdout, "{}", path.display())?;
                }
            }
        }
        Command::Check {
            stage,
            all,
            stack,
            json,
            template,
        } => {
            let rules = stacks::check::RuleSet::builtin()?;
            let mut findings = Vec::new();
            let mut templates = 0;
            for path in &template {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let value = stacks::check::template_file::parse_template(
                    &path.display().to_string(),
                    &text,
                )?;
                templates += 1;
                findings.extend(stacks::check::check_json(
                    &rules,
                    &path.display().to_string(),
                    &value,
                )?);
            }
            let (stages_dir, stages) = if template.is_empty() {
                let dir = stages_dir()?;
                let stages = stages_to_run(&dir, stage, all)?;
                (dir, stages)
            } else {
                (PathBuf::new(), Vec::new())
            };
            let mut selected = Vec::new();
            for stage in stages {
                let config = config::load_stage(&stages_dir, &stage)?;
                for built in
                    app::build_stage(&config).with_context(|| format!("building stage {stage}"))?
                {
                    if let Some(only) = &stack
                        && built.name != *only
                        && built.part.slug() != only
                    {
                        continue;
                    }
                    selected.push(built);
                }
            }
            templates += selected.len();
            let inputs: Vec<(&str, &cfn::Template)> = selected
                .iter()
                .map(|s| (s.name.as_str(), &s.template))
                .collect();
            findings.extend(stacks::check::check_templates(&rules, &inputs)?);
            anyhow::ensure!(
                templates > 0,
                "no stack matches --stack {}",
                stack.unwrap_or_default()
            );
            if json {
                writeln!(stdout, "{}", serde_json::to_string_pretty(&findings)?)?;
            } else {
                write!(
                    stdout,
                    "{}",
                    stacks::check::render_text(&findings, templates)
                )?;
            }
            let blocking = findings.iter().filter(|f| f.is_blocking()).count();
            anyhow::ensure!(blocking == 0, "{blocking} unsuppressed error finding(s)");
        }
        Command::Rules => {
            let rules = stacks::check::RuleSet::builtin()?;
            for info in rules.catalog.values() {
                writeln!(
                    stdout,
                    "{:<40} {:<8} {:<16} {}",
                    info.id,
                    format!("{:?}", info.severity).to_lowercase(),
                    if info.suppressible {
                        "suppressible"
                    } else {
                        "not suppressible"
                    },
                    info.message
                )?;
            }
        }
        #[cfg(feature = "aws")]
        Command::Deploy(args) => deploy::deploy(&stages_dir()?, args, &mut stdout)?,
        #[cfg(feature = "aws")]
        Command::Diff(args) => deploy::diff(&stages_dir()?, args, &mut stdout)?,
        #[cfg(feature = "aws")]
        Command::Destroy(args) => deploy::destroy(&stages_dir()?, args, &mut stdout)?,
        #[cfg(feature = "aws")]
        Command::Outputs(args) => deploy::outputs(&stages_dir()?, args, &mut stdout)?,
        #[cfg(feature = "aws")]
        Command::Status(args) => deploy::status(&stages_dir()?, args, &mut stdout)?,
        #[cfg(feature = "aws")]
        Command::Invalidate(args) => deploy::invalidate(&stages_dir()?, args, &mut stdout)?,
        #[cfg(feature = "aws")]
        Command::FlushAppsync(args) => deploy::flush_appsync(&stages_dir()?, args, &mut stdout)?,
        #[cfg(not(feature = "aws"))]
        Command::Other(args) => {
            let name = args
                .first()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default();
            if AWS_COMMANDS.contains(&name.as_str()) {
                anyhow::bail!(
                    "`stacks {name}` is an AWS command, which this build leaves out; run it with \
                     `cargo run -p stacks --features aws -- {name} ...` (or install with \
                     `cargo install --path stacks --features aws`)"
                );
            }
            anyhow::bail!("unrecognized subcommand `{name}`; see `stacks --help`");
        }
        Command::List => {
            let stages_dir = stages_dir()?;
            for stage in config::list_stages(&stages_dir)? {
                let config = config::load_stage(&stages_dir, &stage)?;
                writeln!(stdout, "{stage}")?;
                for stack in app::build_stage(&config)? {
                    if stack.depends_on.is_empty() {
                        writeln!(stdout, "  {}", stack.name)?;
                    } else {
                        writeln!(
                            stdout,
                            "  {} (after {})",
                            stack.name,
                            stack.depends_on.join(", ")
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`stacks list | head`) is the reader's choice, not a failure.
        Err(error)
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
