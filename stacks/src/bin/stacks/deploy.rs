//! Arguments and output of `stacks deploy | diff | destroy | outputs | status |
//! invalidate | flush-appsync`: the command-line side of [`stacks::deploy`].

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use stacks::app::{self, Stack};
use stacks::config;
use stacks::deploy::changeset::{DeployOutcome, deploy_stack, effective_parameters, template_body};
use stacks::deploy::params::{ParameterOverride, resolve};
use stacks::deploy::{
    AwsContext, ClientOptions, DeployError, assets, cache_ops, destroy, diff, outputs, select,
    status,
};
use stacks::stage::Part;

/// Where and how to reach AWS, and which stacks.
#[derive(Debug, Args)]
pub struct Target {
    /// The stage (a file in the stages directory).
    #[arg(long)]
    stage: String,
    /// Only this stack: the full name (`roadcall-perf-dev-redis`) or the part (`redis`).
    #[arg(long)]
    stack: Option<String>,
    /// AWS profile (default: AWS_PROFILE, then `default`).
    #[arg(long)]
    profile: Option<String>,
    /// AWS region for every stack but `cdn`, which always goes to us-east-1 (default:
    /// AWS_REGION, then the profile's region).
    #[arg(long)]
    region: Option<String>,
    /// How often to poll CloudFormation while following an operation, in milliseconds.
    #[arg(long, default_value_t = 5000, hide = true)]
    poll_ms: u64,
}

/// `stacks deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    target: Target,
    /// Create and show the change sets, but do not execute them.
    #[arg(long)]
    no_execute: bool,
    /// Deploy even when `stacks check` reports unsuppressed errors.
    #[arg(long)]
    skip_check: bool,
    /// Upload this warmer Lambda zip and deploy the warmer with it (the same as
    /// `--lambda-zip warmer=PATH`).
    #[arg(long, value_name = "PATH")]
    warmer_zip: Option<PathBuf>,
    /// Upload a prebuilt zip and deploy its function with it: NAME is vendor, incidents,
    /// payments or warmer (repeat for several).
    #[arg(long = "lambda-zip", value_name = "NAME=PATH")]
    lambda_zips: Vec<assets::LambdaZip>,
    /// Build the zips of the selected stacks' functions first (`cargo lambda build
    /// --release --arm64`), except those given with --lambda-zip; the vendor, incidents
    /// and payments zips get certs/rds-global-bundle.pem at their root.
    #[arg(long)]
    build_lambdas: bool,
    /// Bucket for uploaded assets (default: roadcall-perf-assets-<account>-<region>,
    /// created with encryption and public access blocked).
    #[arg(long, value_name = "NAME")]
    assets_bucket: Option<String>,
    /// Parameter override, `Stack:Key=Value` or `Key=Value` (every stack declaring Key).
    #[arg(long = "parameter", value_name = "[STACK:]KEY=VALUE")]
    parameters: Vec<ParameterOverride>,
}

/// `stacks diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    target: Target,
    /// Parameter overrides to compare against, as for deploy.
    #[arg(long = "parameter", value_name = "[STACK:]KEY=VALUE")]
    parameters: Vec<ParameterOverride>,
    /// Print the differences as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 2 when there are differences (for scripts).
    #[arg(long)]
    fail_on_diff: bool,
}

/// `stacks destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    target: Target,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

/// `stacks outputs` and `stacks status`.
#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `stacks invalidate`.
#[derive(Debug, Args)]
pub struct InvalidateArgs {
    #[command(flatten)]
    target: Target,
    /// Paths to invalidate, e.g. '/api/*' (quote the star).
    #[arg(long, num_args = 1.., required = true)]
    paths: Vec<String>,
    /// Wait until CloudFront reports the invalidation complete.
    #[arg(long)]
    wait: bool,
}

/// `stacks flush-appsync`.
#[derive(Debug, Args)]
pub struct FlushArgs {
    #[command(flatten)]
    target: Target,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Loads the stage and picks the stacks.
fn stacks_of(stages_dir: &Path, target: &Target) -> anyhow::Result<Vec<Stack>> {
    let config = config::load_stage(stages_dir, &target.stage)?;
    let stacks =
        app::build_stage(&config).with_context(|| format!("building stage {}", target.stage))?;
    Ok(select::select(
        &target.stage,
        stacks,
        target.stack.as_deref(),
    )?)
}

/// The one stack of `part` in the stage, whatever `--stack` says.
fn stack_of_part(stages_dir: &Path, target: &Target, part: Part) -> anyhow::Result<Stack> {
    let config = config::load_stage(stages_dir, &target.stage)?;
    let stacks =
        app::build_stage(&config).with_context(|| format!("building stage {}", target.stage))?;
    stacks
        .into_iter()
        .find(|s| s.part == part)
        .with_context(|| format!("stage {} has no {} stack", target.stage, part.slug()))
}

async fn context(target: &Target) -> Result<AwsContext, DeployError> {
    AwsContext::load(&ClientOptions {
        profile: target.profile.clone(),
        region: target.region.clone(),
        poll_interval: Duration::from_millis(target.poll_ms.max(50)),
    })
    .await
}

/// `stacks deploy`.
pub fn deploy(stages_dir: &Path, args: DeployArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let stacks = stacks_of(stages_dir, &args.target)?;

    // The same rules as `stacks check`, on exactly the templates about to be deployed.
    let rules = stacks::check::RuleSet::builtin()?;
    let mut findings = Vec::new();
    for stack in &stacks {
        findings.extend(stacks::check::check_template(
            &rules,
            &stack.name,
            &stack.template,
        )?);
    }
    let blocking = findings.iter().filter(|f| f.is_blocking()).count();
    if !findings.is_empty() {
        write!(
            out,
            "{}",
            stacks::check::render_text(&findings, stacks.len())
        )?;
    }
    if blocking > 0 {
        if args.skip_check {
            writeln!(
                out,
                "warning: deploying despite {blocking} check error(s) (--skip-check)"
            )?;
        } else {
            return Err(DeployError::CheckBlocked(blocking).into());
        }
    }
    let mut overrides = resolve(&stacks, &args.parameters)?;
    let zips = lambda_zips(&args, &stacks, out)?;
    let config = config::load_stage(stages_dir, &args.target.stage)?;

    runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        let mut bucket = None;
        for zip in &zips {
            let Some(stack) = stacks.iter().find(|s| s.part == zip.asset.part) else {
                writeln!(
                    out,
                    "note: the {} zip is ignored: the {} stack is not selected",
                    zip.asset.name,
                    zip.asset.part.slug()
                )?;
                continue;
            };
            let s3 = ctx.s3();
            if bucket.is_none() {
                bucket = Some(match &args.assets_bucket {
                    Some(name) => name.clone(),
                    None => {
                        let account = ctx.account_id().await?;
                        let name = assets::staging_bucket_name(&account, ctx.region());
                        if assets::ensure_staging_bucket(&s3, &name, ctx.region()).await? {
                            writeln!(out, "created staging bucket {name}")?;
                        }
                        name
                    }
                });
            }
            let target_bucket = bucket.as_deref().unwrap_or_default();
            let asset = assets::upload_zip(&s3, target_bucket, zip.asset.name, &zip.path).await?;
            writeln!(
                out,
                "{} s3://{}/{}",
                if asset.uploaded {
                    "uploaded"
                } else {
                    "already uploaded"
                },
                asset.bucket,
                asset.key
            )?;
            let values = overrides.entry(stack.name.clone()).or_default();
            values.insert(zip.asset.bucket_parameter.to_owned(), asset.bucket);
            values.insert(zip.asset.key_parameter.to_owned(), asset.key);
        }
        let empty = BTreeMap::new();
        for stack in &stacks {
            writeln!(out, "==> {} ({})", stack.name, ctx.region_for(stack.part))?;
            if stack.part == Part::Cdn {
                api_domain_from_services(&ctx, &config, stack, &mut overrides, out).await?;
            }
            let values = overrides.get(&stack.name).unwrap_or(&empty);
            match deploy_stack(&ctx, stack, values, !args.no_execute, out).await? {
                DeployOutcome::NoChanges => writeln!(out, "{}: no changes", stack.name)?,
                DeployOutcome::NotExecuted { change_set } => writeln!(
                    out,
                    "{}: change set {change_set} created, not executed (--no-execute)",
                    stack.name
                )?,
                DeployOutcome::Deployed(info) => {
                    writeln!(out, "{}: {}", stack.name, info.status)?;
                    for (key, value) in &info.outputs {
                        writeln!(out, "  {key} = {value}")?;
                    }
                }
            }
        }
        anyhow::Ok(())
    })
}

/// The zips to upload: `--lambda-zip`, `--warmer-zip`, then (with `--build-lambdas`)
/// the selected stacks' other functions, built with cargo-lambda.
fn lambda_zips(
    args: &DeployArgs,
    stacks: &[Stack],
    out: &mut dyn Write,
) -> anyhow::Result<Vec<assets::LambdaZip>> {
    let mut zips = args.lambda_zips.clone();
    if let Some(path) = &args.warmer_zip {
        zips.push(assets::LambdaZip {
            asset: assets::lambda_asset("warmer").context("the warmer asset")?,
            path: path.clone(),
        });
    }
    assets::check_unique(&zips)?;
    if args.build_lambdas {
        let missing: Vec<&str> = assets::LAMBDA_ASSETS
            .iter()
            .filter(|a| stacks.iter().any(|s| s.part == a.part))
            .filter(|a| !zips.iter().any(|z| z.asset.name == a.name))
            .map(|a| a.name)
            .collect();
        if !missing.is_empty() {
            let workspace = std::env::current_dir()?
                .ancestors()
                .find(|dir| dir.join("lambdas").join("Cargo.toml").is_file())
                .map(Path::to_path_buf)
                .context("--build-lambdas: run it inside the roadcall-perf workspace")?;
            writeln!(out, "building {} with cargo lambda", missing.join(", "))?;
            zips.extend(assets::build_zips(&workspace, &missing)?);
            let database: Vec<&str> = missing
                .iter()
                .copied()
                .filter(|n| assets::DATABASE_FUNCTIONS.contains(n))
                .collect();
            if !database.is_empty() {
                writeln!(
                    out,
                    "added {} to the {} zip(s) as {}",
                    assets::ca_bundle_path(&workspace).display(),
                    database.join(", "),
                    assets::CA_BUNDLE_ENTRY
                )?;
            }
        }
    }
    Ok(zips)
}

/// Gives the cdn stack the services stack's API as its `/api/*` origin, unless the stage
/// file or a `--parameter` names one: the services stack lives in the stage's region and
/// the cdn stack in us-east-1, so an export cannot cross; the deployed output can.
async fn api_domain_from_services(
    ctx: &AwsContext,
    config: &config::StageConfig,
    cdn: &Stack,
    overrides: &mut BTreeMap<String, BTreeMap<String, String>>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let explicit = overrides
        .get(&cdn.name)
        .is_some_and(|v| v.contains_key(stacks::deploy::params::API_DOMAIN_PARAMETER));
    if explicit || config.services.is_none() || !config.cdn.api_domain_name.is_empty() {
        return Ok(());
    }
    let stage = stacks::stage::Stage::new(config);
    let services = stage.stack_name(Part::Services);
    let info = outputs::describe_stack(&ctx.cloudformation(Part::Services), &services).await?;
    match info.and_then(|i| i.outputs.get("ApiDomainName").cloned()) {
        Some(domain) if !domain.is_empty() => {
            writeln!(out, "/api/* origin: {domain} (from {services})")?;
            overrides.entry(cdn.name.clone()).or_default().insert(
                stacks::deploy::params::API_DOMAIN_PARAMETER.to_owned(),
                domain,
            );
        }
        _ => writeln!(
            out,
            "note: {services} has no ApiDomainName output yet; /api/* stays off until it is deployed"
        )?,
    }
    Ok(())
}

/// `stacks diff`.
pub fn diff(stages_dir: &Path, args: DiffArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let stacks = stacks_of(stages_dir, &args.target)?;
    let overrides = resolve(&stacks, &args.parameters)?;
    let diffs = runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        let mut diffs = Vec::new();
        let empty = BTreeMap::new();
        for stack in &stacks {
            let client = ctx.cloudformation(stack.part);
            let (_, synthesized) = template_body(stack)?;
            let wanted =
                effective_parameters(&synthesized, overrides.get(&stack.name).unwrap_or(&empty));
            let result = match outputs::describe_stack(&client, &stack.name).await? {
                // A stack left in review by an unexecuted create was never deployed.
                Some(info) if info.status != "REVIEW_IN_PROGRESS" => {
                    let deployed = outputs::deployed_template(&client, &info.id).await?;
                    diff::diff_stack(
                        &stack.name,
                        Some(&deployed),
                        &synthesized,
                        &info.parameters,
                        &wanted,
                    )
                }
                _ => diff::diff_stack(&stack.name, None, &synthesized, &BTreeMap::new(), &wanted),
            };
            diffs.push(result);
        }
        Ok::<_, DeployError>(diffs)
    })?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&diffs)?)?;
    } else {
        for stack_diff in &diffs {
            write!(out, "{}", diff::render_text(stack_diff))?;
        }
    }
    if args.fail_on_diff && diffs.iter().any(|d| !d.is_empty()) {
        out.flush()?;
        std::process::exit(2);
    }
    Ok(())
}

/// `stacks destroy`.
pub fn destroy(stages_dir: &Path, args: DestroyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut stacks = stacks_of(stages_dir, &args.target)?;
    // Dependents first: an export cannot be deleted while another stack imports it.
    stacks.reverse();
    let interactive = std::io::stdin().is_terminal();
    let mut answer = None;
    if !args.yes && interactive {
        writeln!(out, "This deletes these stacks and what they hold:")?;
        for stack in &stacks {
            writeln!(out, "  {}", stack.name)?;
        }
        write!(out, "Type 'yes' to continue: ")?;
        out.flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_ok() {
            answer = Some(line);
        }
    }
    if !destroy::confirmed(args.yes, interactive, answer.as_deref())? {
        writeln!(out, "not confirmed; nothing deleted")?;
        return Ok(());
    }
    runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        for stack in &stacks {
            writeln!(out, "==> {} ({})", stack.name, ctx.region_for(stack.part))?;
            match destroy::destroy_stack(&ctx, stack, out).await? {
                destroy::DestroyOutcome::Deleted => writeln!(out, "{}: deleted", stack.name)?,
                destroy::DestroyOutcome::NotDeployed => {
                    writeln!(out, "{}: not deployed, nothing to delete", stack.name)?
                }
            }
        }
        anyhow::Ok(())
    })
}

/// `stacks outputs`.
pub fn outputs(stages_dir: &Path, args: OutputsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let stacks = stacks_of(stages_dir, &args.target)?;
    let found = runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        let mut found = Vec::new();
        for stack in &stacks {
            let info =
                outputs::describe_stack(&ctx.cloudformation(stack.part), &stack.name).await?;
            found.push((stack.name.clone(), info));
        }
        Ok::<_, DeployError>(found)
    })?;
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&outputs::outputs_json(&found))?
        )?;
    } else {
        write!(out, "{}", outputs::render_outputs_text(&found))?;
    }
    Ok(())
}

/// `stacks status`.
pub fn status(stages_dir: &Path, args: OutputsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let stacks = stacks_of(stages_dir, &args.target)?;
    let statuses = runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        let mut statuses = Vec::new();
        for stack in &stacks {
            statuses.push(status::stack_status(&ctx, stack).await?);
        }
        Ok::<_, DeployError>(statuses)
    })?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&statuses)?)?;
    } else {
        write!(out, "{}", status::render_text(&statuses))?;
    }
    Ok(())
}

/// `stacks invalidate`.
pub fn invalidate(
    stages_dir: &Path,
    args: InvalidateArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    cache_ops::validate_paths(&args.paths)?;
    let cdn = stack_of_part(stages_dir, &args.target, Part::Cdn)?;
    runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        let id = cache_ops::distribution_id(&ctx, &cdn).await?;
        let created = cache_ops::invalidate(
            &ctx.cloudfront(),
            &id,
            &args.paths,
            args.wait,
            ctx.poll_interval,
        )
        .await?;
        writeln!(
            out,
            "invalidation {} on distribution {id}: {}",
            created.id, created.status
        )?;
        anyhow::Ok(())
    })
}

/// `stacks flush-appsync`.
pub fn flush_appsync(
    stages_dir: &Path,
    args: FlushArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let appsync = stack_of_part(stages_dir, &args.target, Part::AppSyncCache)?;
    runtime()?.block_on(async {
        let ctx = context(&args.target).await?;
        let api_id = cache_ops::cached_api_id(&ctx, &appsync).await?;
        cache_ops::flush_api_cache(&ctx.appsync(), &api_id).await?;
        writeln!(out, "flushed the API cache of AppSync API {api_id}")?;
        anyhow::Ok(())
    })
}
