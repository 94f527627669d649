//! `sendsim`: run and check SEND scenarios. Thin glue over the `sim` library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use sim::report::{daily_csv, summary, text_table, write_atomic};
use sim::run::{RunOptions, simulate};
use sim::scenario::{Scenario, ScenarioError};
use sim::{Model, plots};

#[derive(Parser)]
#[command(
    name = "sendsim",
    version,
    about = "Simulate Italy's SEND notification platform against the all-paper process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario (the built-in default when none is given) and write results.
    Run(RunArgs),
    /// Check scenario files and report every problem with its field.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override a parameter (repeatable), as in `run`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
    },
    /// Run several scenarios with common random numbers and compare their KPIs.
    Compare(CompareArgs),
    /// Run a scenario over a grid of one or two parameters, or a Latin hypercube of more.
    Sweep(SweepArgs),
    /// Move each parameter of the scenario's [ranges] to its low and high end, one at a
    /// time, and rank them by how far they swing the KPIs (tornado charts).
    Sensitivity(SensitivityArgs),
    /// Fit free parameters, within their ranges, so that the simulated KPIs meet targets;
    /// write the calibrated scenario file.
    Calibrate(CalibrateArgs),
    /// Project adoption month by month: bodies joining, their volumes, recipients'
    /// digital adoption, costs, savings, cash and the programme's budget, against the
    /// public monthly series.
    Project(ProjectArgs),
    /// Add up the shards of a run (`run --shard`) into its outputs, byte for byte those
    /// of the unsharded run.
    Merge {
        /// Folders holding shard-I-of-N.json files.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder (default: results/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip the PNG and SVG plots.
        #[arg(long)]
        no_plots: bool,
    },
    /// Print a scenario with every parameter resolved (the built-in default when none is given).
    Show {
        scenario: Option<PathBuf>,
        /// Override a parameter (repeatable), as in `run`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario file (TOML), laid over the built-in default (and the files it `extends`).
    scenario: Option<PathBuf>,
    /// Override any parameter, after the file (repeatable): a dotted path with `[i]` for
    /// list elements and a TOML value, e.g. `--set arrivals.window_days=20`
    /// `--set 'acts[0].share=0.5'`. Validated as a file is.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Seed of every random stream (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Independent replications (default: the scenario's).
    #[arg(long)]
    replications: Option<u32>,
    /// Notifications per replication (default: the scenario's).
    #[arg(long)]
    notifications: Option<u64>,
    /// Output folder (default: results/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    show: Show,
    /// Simulate only shard I of N and write its exact tallies (`shard-I-of-N.json`) for
    /// `sendsim merge`. Without it, the index is read from JOB_COMPLETION_INDEX or
    /// SLURM_ARRAY_TASK_ID when --shards (or SENDSIM_SHARDS) gives N.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The number of shards, when the index comes from the environment.
    #[arg(long, env = "SENDSIM_SHARDS")]
    shards: Option<u32>,
    /// Also write report.html: one self-contained page (plots embedded, tables, every
    /// parameter with its source) that can be mailed.
    #[arg(long, conflicts_with = "no_plots")]
    report: bool,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Two or more scenario files; each is compared with the first.
    #[arg(required = true, num_args = 2..)]
    scenarios: Vec<PathBuf>,
    /// Seed shared by every scenario (default: the first scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Replications of each scenario (default: the first scenario's).
    #[arg(long, conflicts_with = "precision")]
    replications: Option<u32>,
    /// Instead of a fixed number: add replications (doubling) until every headline KPI's
    /// 95% half-width is under this share of its mean, e.g. 0.01 for 1%.
    #[arg(long)]
    precision: Option<f64>,
    /// The most replications --precision may use.
    #[arg(long, default_value_t = 64)]
    max_replications: u32,
    /// Notifications per replication (default: the first scenario's).
    #[arg(long)]
    notifications: Option<u64>,
    /// Output folder.
    #[arg(long, default_value = "results/compare")]
    out: PathBuf,
    /// Also write report.html: one self-contained page (plots embedded, tables).
    #[arg(long, conflicts_with = "no_plots")]
    report: bool,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    show: Show,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Scenario file (the built-in default when none is given).
    scenario: Option<PathBuf>,
    /// Parameters to vary: PATH=START:STOP:STEP (one or two for a grid), or
    /// PATH=LOW:HIGH with --lhs. Bounds without a decimal point vary in whole numbers.
    #[arg(long, required = true, value_name = "PATH=START:STOP:STEP")]
    vary: Vec<String>,
    /// Instead of a grid: N points of a Latin hypercube over every --vary range.
    #[arg(long, value_name = "N")]
    lhs: Option<usize>,
    /// Fixed overrides laid under every point (repeatable), as in `run`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Seed shared by every point (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Replications at each point (default: the scenario's).
    #[arg(long)]
    replications: Option<u32>,
    /// Notifications per replication (default: the scenario's).
    #[arg(long)]
    notifications: Option<u64>,
    /// Output folder.
    #[arg(long, default_value = "results/sweep")]
    out: PathBuf,
    /// Points run at once (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    show: Show,
}

#[derive(clap::Args)]
struct SensitivityArgs {
    /// Scenario file (the built-in default when none is given); its [ranges] table says
    /// which parameters move and how far.
    scenario: Option<PathBuf>,
    /// KPIs to rank parameters by (repeatable; default: the headline KPIs).
    #[arg(long)]
    kpi: Vec<String>,
    /// Fixed overrides (repeatable), as in `run`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Seed shared by every run (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Replications of each run (default: the scenario's).
    #[arg(long)]
    replications: Option<u32>,
    /// Notifications per replication (default: the scenario's).
    #[arg(long)]
    notifications: Option<u64>,
    /// Output folder.
    #[arg(long, default_value = "results/sensitivity")]
    out: PathBuf,
    /// Runs at once (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    show: Show,
}

#[derive(clap::Args)]
struct ProjectArgs {
    /// Scenario file with a [projection] table (default: the built-in
    /// scenarios/adoption.toml, the national programme since July 2023).
    scenario: Option<PathBuf>,
    /// Months to project (default: the scenario's).
    #[arg(long)]
    months: Option<u32>,
    /// Notifications simulated per month (default: the scenario's).
    #[arg(long)]
    sample: Option<u64>,
    /// Override any parameter (repeatable), as in `run`, e.g.
    /// `--set projection.adoption.io_send_enabled_share.ceiling=0.6`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Seed of the bodies and of every month's sample (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder.
    #[arg(long, default_value = "results/project")]
    out: PathBuf,
    /// Also write report.html: one self-contained page (plots embedded, tables, every
    /// parameter with its source).
    #[arg(long, conflicts_with = "no_plots")]
    report: bool,
    /// Months simulated at once (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    show: Show,
}

#[derive(clap::Args)]
struct CalibrateArgs {
    /// Scenario file (the built-in default when none is given).
    scenario: Option<PathBuf>,
    /// A KPI to meet (repeatable): KPI=VALUE for SEND's value, KPI.change=VALUE for SEND
    /// relative to paper minus one, KPI.difference=VALUE for SEND minus paper; shares as
    /// fractions, money in cents, time in days.
    #[arg(long, required = true, value_name = "KPI=VALUE")]
    target: Vec<String>,
    /// A parameter to fit (repeatable): PATH, within its range in the scenario's [ranges],
    /// or PATH=LOW:HIGH.
    #[arg(long, required = true, value_name = "PATH[=LOW:HIGH]")]
    free: Vec<String>,
    /// Fixed overrides (repeatable), as in `run`; kept in the calibrated file.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// The largest residual, relative to its target, that counts as met.
    #[arg(long, default_value_t = 0.02)]
    tolerance: f64,
    /// The most optimiser (Nelder–Mead) iterations; each takes one or two simulations.
    #[arg(long, default_value_t = 60)]
    iterations: u64,
    /// Seed of every simulation (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Replications of each simulation (default: the scenario's).
    #[arg(long)]
    replications: Option<u32>,
    /// Notifications per replication (default: the scenario's).
    #[arg(long)]
    notifications: Option<u64>,
    /// Name of the calibrated scenario (default: the scenario's name with "-calibrated").
    #[arg(long)]
    name: Option<String>,
    /// Where to write the calibrated scenario (default: OUT/calibrated.toml).
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Output folder: calibration.json and the convergence plot.
    #[arg(long, default_value = "results/calibrate")]
    out: PathBuf,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    show: Show,
}

/// What a command draws besides its files.
#[derive(clap::Args)]
struct Show {
    /// Skip the PNG and SVG plots.
    #[arg(long)]
    no_plots: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Serialize)]
struct RunRecord<'a> {
    version: &'a str,
    scenario: &'a str,
    scenario_hash: &'a str,
    scenario_file: Option<String>,
    /// The `--set` overrides laid over the file.
    overrides: &'a [String],
    seed: u64,
    replications: u32,
    notifications_per_replication: u64,
    recipients: u64,
    threads: usize,
    started_at: String,
    elapsed_seconds: f64,
    notifications_per_second: f64,
    recipients_per_second: f64,
}

fn load(path: Option<&Path>, sets: &[String]) -> Result<Scenario, ScenarioError> {
    match (path, sets) {
        (None, []) => Ok(Scenario::builtin_default()),
        _ => Scenario::compose(path, sets),
    }
}

fn compare(args: CompareArgs) -> Result<()> {
    use sim::compare::{self, Precision, ScenarioRef};
    let precision = match args.precision {
        Some(p) if p > 0.0 && p.is_finite() => Some(Precision {
            relative: p,
            max_replications: args.max_replications.max(2),
        }),
        Some(p) => anyhow::bail!("--precision must be a share > 0, e.g. 0.01 for 1%; got {p}"),
        None => None,
    };
    let mut refs = Vec::new();
    let mut models = Vec::new();
    for path in &args.scenarios {
        let scenario = Scenario::load(path)?;
        refs.push(ScenarioRef {
            name: scenario.name.clone(),
            file: path.display().to_string(),
            hash: scenario.hash(),
        });
        models.push(Model::new(scenario)?);
    }
    let first = &models[0].scenario;
    let opts = RunOptions {
        seed: args.seed.unwrap_or(first.seed),
        replications: args.replications.unwrap_or(first.replications).max(1),
        notifications: args.notifications.unwrap_or(first.notifications).max(1),
        threads: args.threads,
    };
    create_out(&args.out)?;
    let bar = if args.show.quiet {
        ProgressBar::hidden()
    } else {
        // With --precision the number of replications is not known in advance.
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} comparing: {human_pos} notifications simulated ({per_sec})",
            )
            .expect("progress template"),
        );
        b
    };
    let runs = compare::simulate_all(&models, &opts, precision, &|n| bar.inc(n));
    bar.finish_and_clear();
    let c = compare::compare(refs, &runs, opts.seed, opts.notifications, precision);
    let json = serde_json::to_string_pretty(&c)? + "\n";
    write_atomic(&args.out.join("compare.json"), json.as_bytes())?;
    write_atomic(&args.out.join("compare.csv"), compare::csv(&c).as_bytes())?;
    if !args.show.no_plots {
        let names: Vec<String> = c.scenarios.iter().map(|s| s.name.clone()).collect();
        sim::compare_plots::write_all(&args.out, &names, &runs)?;
    }
    if args.report {
        let files: Vec<String> = args
            .scenarios
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let reproduce = format!(
            "sendsim compare {} --seed {} --replications {} --notifications {} --report",
            files.join(" "),
            c.seed,
            c.replications,
            c.notifications_per_replication
        );
        let page = sim::html_report::compare_page(&c, &args.out, &reproduce)?;
        write_atomic(&args.out.join("report.html"), page.as_bytes())?;
    }
    match args.format {
        Format::Text => {
            print!("{}", compare::text_table(&c));
            println!("\nresults in {}", args.out.display());
        }
        Format::Json => print!("{json}"),
    }
    Ok(())
}

fn sweep(args: SweepArgs) -> Result<()> {
    use sim::sweep::{self, Vary};
    let vary = args
        .vary
        .iter()
        .map(|v| Vary::parse(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let base = load(args.scenario.as_deref(), &args.sets)?;
    let seed = args.seed.unwrap_or(base.seed);
    let points = sweep::points(&vary, args.lhs, seed).map_err(anyhow::Error::msg)?;
    // Every point is checked before anything runs.
    let mut models = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let mut sets = args.sets.clone();
        sets.extend(
            vary.iter()
                .zip(p)
                .map(|(v, x)| format!("{}={}", v.path, v.literal(*x))),
        );
        let scenario = Scenario::compose(args.scenario.as_deref(), &sets)
            .with_context(|| format!("sweep point {i}"))?;
        models.push(Model::new(scenario)?);
    }
    let opts = RunOptions {
        seed,
        replications: args.replications.unwrap_or(base.replications).max(1),
        notifications: args.notifications.unwrap_or(base.notifications).max(1),
        threads: 1,
    };
    create_out(&args.out)?;
    let total = opts.notifications * opts.replications as u64 * points.len() as u64;
    let bar = progress_bar(args.show.quiet, "sweeping", total);
    let reports = sweep::run_points(&models, &opts, args.threads, &|n| bar.inc(n));
    bar.finish_and_clear();
    write_atomic(
        &args.out.join("sweep.csv"),
        sweep::csv(&vary, &points, &reports).as_bytes(),
    )?;
    let plotted = !args.show.no_plots
        && sim::sweep_plots::write_all(&args.out, &vary, &points, &reports, args.lhs.is_none())?;
    let paths: Vec<&str> = vary.iter().map(|v| v.path.as_str()).collect();
    println!(
        "{} points of {} · seed {seed} · {} replication(s) × {} notifications each · common random numbers\n",
        points.len(),
        paths.join(", "),
        opts.replications,
        opts.notifications
    );
    let mut header = paths
        .iter()
        .map(|p| format!("{p:>24}"))
        .collect::<Vec<_>>()
        .join(" ");
    for k in sim::compare::HEADLINE_KPIS {
        header.push_str(&format!(" {:>14}", &k[..k.len().min(14)]));
    }
    println!("{header}");
    for (p, r) in points.iter().zip(&reports) {
        let mut line = vary
            .iter()
            .zip(p)
            .map(|(v, x)| format!("{:>24}", v.literal(*x)))
            .collect::<Vec<_>>()
            .join(" ");
        for k in sim::compare::HEADLINE_KPIS {
            let (_, rep) = r.iter().find(|(n, _)| *n == k).expect("a KPI");
            line.push_str(&format!(
                " {:>14}",
                sim::report::fmt_value(&rep.unit, rep.send.mean, false)
            ));
        }
        println!("{line}");
    }
    println!(
        "\nresults in {}{}",
        args.out.display(),
        if plotted {
            " (sweep.csv and a plot per headline KPI)"
        } else {
            " (sweep.csv)"
        }
    );
    Ok(())
}

fn sensitivity(args: SensitivityArgs) -> Result<()> {
    use sim::sensitivity::{self, literal};
    let kpis: Vec<&str> = if args.kpi.is_empty() {
        sim::compare::HEADLINE_KPIS.to_vec()
    } else {
        args.kpi.iter().map(String::as_str).collect()
    };
    for k in &kpis {
        if !sim::tally::KPI_NAMES.contains(k) {
            anyhow::bail!(
                "--kpi {k:?}: expected one of {}",
                sim::tally::KPI_NAMES.join(", ")
            );
        }
    }
    let base = load(args.scenario.as_deref(), &args.sets)?;
    let ranges: Vec<(String, f64, f64)> = base
        .ranges
        .iter()
        .map(|(p, [lo, hi])| (p.clone(), *lo, *hi))
        .collect();
    if ranges.is_empty() {
        anyhow::bail!(
            "the scenario has no [ranges]: add e.g. \"pec.working_box_share\" = [0.90, 0.98] under [ranges]"
        );
    }
    // Every end of every range is checked before anything runs.
    let mut models = vec![Model::new(base.clone())?];
    for (path, lo, hi) in &ranges {
        for v in [lo, hi] {
            let mut sets = args.sets.clone();
            sets.push(format!("{path}={}", literal(*v)));
            let scenario = Scenario::compose(args.scenario.as_deref(), &sets)
                .with_context(|| format!("range of {path} in [ranges]"))?;
            models.push(Model::new(scenario)?);
        }
    }
    let opts = RunOptions {
        seed: args.seed.unwrap_or(base.seed),
        replications: args.replications.unwrap_or(base.replications).max(1),
        notifications: args.notifications.unwrap_or(base.notifications).max(1),
        threads: 1,
    };
    create_out(&args.out)?;
    let total = opts.notifications * opts.replications as u64 * models.len() as u64;
    let bar = progress_bar(args.show.quiet, "sensitivity", total);
    let reports = sim::sweep::run_points(&models, &opts, args.threads, &|n| bar.inc(n));
    bar.finish_and_clear();
    let results = sensitivity::analyse(&kpis, &ranges, &reports);
    write_atomic(
        &args.out.join("sensitivity.csv"),
        sensitivity::csv(&results).as_bytes(),
    )?;
    if !args.show.no_plots {
        sim::sensitivity_plots::write_all(&args.out, &results)?;
    }
    println!(
        "{} · {} parameters, each at both ends of its range · seed {} · {} replication(s) × {} notifications · common random numbers\n",
        base.name,
        ranges.len(),
        opts.seed,
        opts.replications,
        opts.notifications
    );
    print!("{}", sensitivity::text_table(&results));
    println!("results in {}", args.out.display());
    Ok(())
}

fn project(args: ProjectArgs) -> Result<()> {
    let mut sets = args.sets.clone();
    if let Some(m) = args.months {
        sets.push(format!("projection.months={m}"));
    }
    if let Some(n) = args.sample {
        sets.push(format!("projection.sample_notifications={n}"));
    }
    let scenario = match &args.scenario {
        Some(path) => Scenario::compose(Some(path), &sets)?,
        None => Scenario::adoption(&sets)?,
    };
    let months = scenario.projection.as_ref().map_or(0, |p| p.months);
    let seed = args.seed.unwrap_or(scenario.seed);
    create_out(&args.out)?;
    let bar = if args.show.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(Some(months as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} projecting [{bar:40}] {pos}/{len} months ({elapsed}, eta {eta})",
            )
            .expect("progress template")
            .progress_chars("=> "),
        );
        b
    };
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let p = sim::project::project(&scenario, seed, args.threads, &|n| bar.inc(n))
        .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    write_atomic(
        &args.out.join("projection.csv"),
        sim::project::csv(&p).as_bytes(),
    )?;
    write_atomic(
        &args.out.join("projection.json"),
        (serde_json::to_string_pretty(&p)? + "\n").as_bytes(),
    )?;
    if !args.show.no_plots {
        sim::project::plots::write_all(&args.out, &p)?;
    }
    if args.report {
        let layers = match &args.scenario {
            Some(path) => Scenario::layer_texts(Some(path))?,
            None => Scenario::adoption_layer_texts(),
        };
        let sources = sim::provenance::Sources::read(&layers, &sets);
        let mut reproduce = String::from("sendsim project");
        if let Some(path) = &args.scenario {
            reproduce.push_str(&format!(" {}", path.display()));
        }
        for set in &args.sets {
            reproduce.push_str(&format!(" --set '{set}'"));
        }
        reproduce.push_str(&format!(
            " --months {} --sample {} --seed {seed} --report",
            p.months.len(),
            p.sample_notifications
        ));
        let page = sim::html_report::project_page(&p, &scenario, &sources, &args.out, &reproduce)?;
        write_atomic(&args.out.join("report.html"), page.as_bytes())?;
    }
    println!(
        "{} · {} bodies · {} months from {} · seed {seed} · {} notifications simulated per month\n",
        p.scenario,
        p.bodies,
        p.months.len(),
        p.months.first().map_or("", |m| m.month.as_str()),
        p.sample_notifications
    );
    print!("{}", sim::project::text_table(&p));
    println!(
        "\nresults in {} (projection.csv, projection.json{}) · {elapsed:.1} s",
        args.out.display(),
        if args.show.no_plots { "" } else { ", plots" }
    );
    Ok(())
}

fn calibrate(args: CalibrateArgs) -> Result<()> {
    use sim::calibrate::{self, Free, Target};
    if !(args.tolerance > 0.0 && args.tolerance.is_finite()) {
        anyhow::bail!(
            "--tolerance must be a share > 0, e.g. 0.02 for 2%; got {}",
            args.tolerance
        );
    }
    let targets = args
        .target
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let base = load(args.scenario.as_deref(), &args.sets)?;
    let free = args
        .free
        .iter()
        .map(|f| Free::parse(f, &base.ranges, |p| base.number_at(p)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-calibrated", base.name));
    let opts = RunOptions {
        seed: args.seed.unwrap_or(base.seed),
        replications: args.replications.unwrap_or(base.replications).max(1),
        notifications: args.notifications.unwrap_or(base.notifications).max(1),
        threads: args.threads,
    };
    let compose = |values: &[f64]| {
        let mut sets = args.sets.clone();
        sets.extend(free.iter().zip(values).map(|(f, v)| f.set(*v)));
        Scenario::compose(args.scenario.as_deref(), &sets)
    };
    // Both ends of every range are checked before anything runs.
    for (i, f) in free.iter().enumerate() {
        for end in [f.low, f.high] {
            let mut values: Vec<f64> = free.iter().map(|f| f.start).collect();
            values[i] = end;
            compose(&values).with_context(|| format!("--free {} at {end}", f.path))?;
        }
    }
    create_out(&args.out)?;
    let bar = if args.show.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} calibrating: {msg} ({elapsed})")
                .expect("progress template"),
        );
        b
    };
    let evaluate = |values: &[f64]| {
        let scenario = compose(values).map_err(|e| e.to_string())?;
        let model = Model::new(scenario).map_err(|e| e.to_string())?;
        let tallies = simulate(&model, &opts, &|_| {});
        Ok(sim::report::kpi_reports(&tallies))
    };
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let c = calibrate::calibrate(
        &targets,
        &free,
        args.tolerance,
        args.iterations,
        (opts.seed, opts.replications, opts.notifications),
        &evaluate,
        &|n, best| {
            bar.set_message(format!(
                "{n} simulations, best root sum of squared residuals {:.2}%",
                best.sqrt() * 100.0
            ))
        },
    )
    .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    // The calibrated file: the fitted values (rounded for reading) and the fixed
    // overrides, laid over the scenario file it extends.
    let written = args
        .write
        .clone()
        .unwrap_or_else(|| args.out.join("calibrated.toml"));
    let mut sets = args.sets.clone();
    sets.push(format!("name={}", toml::Value::String(name.clone())));
    sets.extend(
        free.iter()
            .zip(&c.best.values)
            .map(|(f, v)| f.set(calibrate::round(*v))),
    );
    let fitted = Scenario::compose(args.scenario.as_deref(), &sets)?;
    let mut paths: Vec<String> = sets
        .iter()
        .filter_map(|s| s.split_once('=').map(|(p, _)| p.trim().to_string()))
        .collect();
    paths.dedup();
    let overlay = fitted.overlay(&paths).map_err(anyhow::Error::msg)?;
    let extends = match &args.scenario {
        Some(base) => Some(relative_path(
            base,
            written.parent().unwrap_or(Path::new(".")),
        )?),
        None => None,
    };
    let command = std::iter::once("sendsim".to_string())
        .chain(std::env::args().skip(1).map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        }))
        .collect::<Vec<_>>()
        .join(" ");
    let text = calibrate::calibrated_file(
        &c,
        &command,
        extends.as_deref(),
        &toml::to_string(&overlay)?,
    );
    if let Some(dir) = written.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_out(dir)?;
    }
    write_atomic(&written, text.as_bytes())
        .with_context(|| format!("cannot write {}", written.display()))?;
    let reread = Scenario::load(&written)?;
    if reread.hash() != fitted.hash() {
        anyhow::bail!(
            "{} does not give back the fitted scenario; please report this",
            written.display()
        );
    }
    write_atomic(
        &args.out.join("calibration.json"),
        (serde_json::to_string_pretty(&c)? + "\n").as_bytes(),
    )?;
    if !args.show.no_plots {
        sim::calibrate_plots::write_all(&args.out, &c)?;
    }
    println!(
        "{} · seed {} · {} replication(s) × {} notifications per simulation · common random numbers\n",
        base.name, opts.seed, opts.replications, opts.notifications
    );
    print!("{}", calibrate::text_table(&c));
    println!(
        "\ncalibrated scenario {name:?} in {} · calibration.json in {} · {elapsed:.1} s",
        written.display(),
        args.out.display()
    );
    Ok(())
}

/// `target` as seen from the folder `from` (relative when they share a root, so a
/// calibrated file and the one it extends can move together).
fn relative_path(target: &Path, from: &Path) -> Result<String> {
    let abs = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
    };
    let (target, from) = (abs(target)?, abs(from)?);
    let t: Vec<_> = target.components().collect();
    let f: Vec<_> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return Ok(target.display().to_string());
    }
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    Ok(rel.display().to_string())
}

/// A progress bar on stderr counting `total` notifications (hidden with `quiet`).
fn progress_bar(quiet: bool, doing: &str, total: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {doing} [{{bar:40}}] {{human_pos}}/{{human_len}} notifications ({{per_sec}}, eta {{eta}})"
        ))
        .expect("progress template")
        .progress_chars("=> "),
    );
    b
}

/// Creates an output folder, naming it if that fails.
fn create_out(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output folder {}", dir.display()))
}

/// `summary.json`, `daily.csv` and the plots of a run (whole or merged from shards).
fn write_outputs(
    out: &Path,
    model: &Model,
    name: &str,
    hash: &str,
    opts: &RunOptions,
    tallies: &[sim::tally::Tally],
    no_plots: bool,
) -> Result<(sim::report::Summary, String)> {
    let s = summary(
        name,
        hash,
        opts.seed,
        opts.notifications,
        model.scenario.horizon_days,
        tallies,
    );
    let dates: Vec<String> = (0..model.scenario.horizon_days as i64)
        .map(|d| {
            model
                .calendar
                .local(d * sim::time::DAY)
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect();
    let summary_json = serde_json::to_string_pretty(&s)? + "\n";
    write_atomic(&out.join("summary.json"), summary_json.as_bytes())?;
    write_atomic(
        &out.join("daily.csv"),
        daily_csv(tallies, &dates).as_bytes(),
    )?;
    if !no_plots {
        plots::write_all(out, model, tallies)?;
    }
    Ok((s, summary_json))
}

/// `--shard I/N`, or the index from the environment with `--shards N`.
fn parse_shard(shard: Option<&str>, shards: Option<u32>) -> Result<Option<(u32, u32)>> {
    if let Some(text) = shard {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        return match parsed {
            Some((i, n)) if n > 0 && i < n => Ok(Some((i, n))),
            _ => anyhow::bail!("--shard {text:?}: expected I/N with 0 <= I < N, e.g. 0/4"),
        };
    }
    let Some(n) = shards else { return Ok(None) };
    for var in sim::shard::INDEX_VARIABLES {
        if let Ok(v) = std::env::var(var) {
            let i: u32 = v
                .trim()
                .parse()
                .with_context(|| format!("{var}={v:?} is not a shard index"))?;
            if n == 0 || i >= n {
                anyhow::bail!("{var}={i} is not below the {n} shards (--shards / SENDSIM_SHARDS)");
            }
            return Ok(Some((i, n)));
        }
    }
    anyhow::bail!(
        "--shards {n} without an index: give --shard I/{n} or set {}",
        sim::shard::INDEX_VARIABLES.join(" or ")
    )
}

fn merge(dirs: &[PathBuf], out: Option<PathBuf>, no_plots: bool) -> Result<()> {
    let mut files = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the folder {}", dir.display()))?;
        for e in entries {
            let path = e?.path();
            let is_shard = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"));
            if is_shard {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let f: sim::shard::ShardFile = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a shard file", path.display()))?;
                files.push((path.display().to_string(), f));
            }
        }
    }
    let (first, tallies) = sim::shard::merge(files).map_err(anyhow::Error::msg)?;
    let scenario = Scenario::from_toml_str(&first.scenario_toml, "the shards' scenario")?;
    if scenario.hash() != first.scenario_hash {
        anyhow::bail!("the shards' scenario does not give back its hash: a shard file was edited");
    }
    let model = Model::new(scenario)?;
    let opts = RunOptions {
        seed: first.seed,
        replications: first.replications,
        notifications: first.notifications,
        threads: 0,
    };
    let out = out.unwrap_or_else(|| Path::new("results").join(&first.scenario));
    create_out(&out)?;
    let (s, _) = write_outputs(
        &out,
        &model,
        &first.scenario,
        &first.scenario_hash,
        &opts,
        &tallies,
        no_plots,
    )?;
    print!("{}", text_table(&s));
    println!(
        "\nmerged {} shards ({} split) · results in {}",
        first.shards,
        first.split,
        out.display()
    );
    Ok(())
}

fn run(args: RunArgs) -> Result<()> {
    let RunArgs {
        scenario: scenario_path,
        sets,
        seed,
        replications,
        notifications,
        out,
        threads,
        format,
        show: Show { no_plots, quiet },
        shard,
        shards,
        report,
    } = args;
    let scenario = load(scenario_path.as_deref(), &sets)?;
    let shard = parse_shard(shard.as_deref(), shards)?;
    let opts = RunOptions {
        seed: seed.unwrap_or(scenario.seed),
        replications: replications.unwrap_or(scenario.replications).max(1),
        notifications: notifications.unwrap_or(scenario.notifications).max(1),
        threads,
    };
    let out = out.unwrap_or_else(|| Path::new("results").join(&scenario.name));
    create_out(&out)?;
    let hash = scenario.hash();
    let name = scenario.name.clone();
    let model = Model::new(scenario)?;

    let total = opts.notifications * opts.replications as u64;
    let bar = progress_bar(quiet, "simulating", total);
    // Wall-clock time is measured here, at the binary's edge, never inside the model.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Some((i, n)) = shard {
        let (split, first_replication, tallies) =
            sim::shard::simulate_shard(&model, &opts, i, n, &|x| bar.inc(x))
                .map_err(anyhow::Error::msg)?;
        bar.finish_and_clear();
        let file = sim::shard::ShardFile {
            schema: sim::shard::SCHEMA.into(),
            scenario: name.clone(),
            scenario_hash: hash.clone(),
            scenario_toml: model.scenario.to_toml(),
            seed: opts.seed,
            replications: opts.replications,
            notifications: opts.notifications,
            shard: i,
            shards: n,
            split,
            first_replication,
            tallies,
        };
        let path = out.join(sim::shard::ShardFile::file_name(i, n));
        write_atomic(&path, (serde_json::to_string(&file)? + "\n").as_bytes())?;
        println!(
            "shard {i} of {n} ({} split) in {:.2} s: {}; add the shards up with `sendsim merge`",
            file.split,
            started.elapsed().as_secs_f64(),
            path.display()
        );
        return Ok(());
    }
    let tallies = simulate(&model, &opts, &|n| bar.inc(n));
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let (s, summary_json) = write_outputs(&out, &model, &name, &hash, &opts, &tallies, no_plots)?;
    let recipients = s.counts.recipients;
    let record = RunRecord {
        version: env!("CARGO_PKG_VERSION"),
        scenario: &name,
        scenario_hash: &hash,
        scenario_file: scenario_path.as_ref().map(|p| p.display().to_string()),
        overrides: &sets,
        seed: opts.seed,
        replications: opts.replications,
        notifications_per_replication: opts.notifications,
        recipients,
        threads: if threads == 0 {
            rayon::current_num_threads()
        } else {
            threads
        },
        started_at,
        elapsed_seconds: elapsed,
        notifications_per_second: total as f64 / elapsed.max(1e-9),
        recipients_per_second: recipients as f64 / elapsed.max(1e-9),
    };
    write_atomic(
        &out.join("run.json"),
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )?;
    if report {
        let sources = sim::provenance::Sources::read(
            &Scenario::layer_texts(scenario_path.as_deref())?,
            &sets,
        );
        let mut reproduce = String::from("sendsim run");
        if let Some(p) = &scenario_path {
            reproduce.push_str(&format!(" {}", p.display()));
        }
        for set in &sets {
            reproduce.push_str(&format!(" --set '{set}'"));
        }
        reproduce.push_str(&format!(
            " --seed {} --replications {} --notifications {} --report",
            opts.seed, opts.replications, opts.notifications
        ));
        let page = sim::html_report::run_page(&sim::html_report::RunPage {
            summary: &s,
            scenario: &model.scenario,
            sources: &sources,
            plots: &out,
            reproduce: &reproduce,
        })?;
        write_atomic(&out.join("report.html"), page.as_bytes())?;
    }
    match format {
        Format::Text => {
            print!("{}", text_table(&s));
            if model.scenario.postal_capacity.enabled {
                println!(
                    "\npostal capacity: {} letters waited for a carrier's week, {:.1} days on average",
                    s.counts.letters_waited_for_capacity, s.counts.mean_capacity_wait_days
                );
            }
            println!(
                "\n{} recipients in {:.2} s ({:.0} recipients/s) · results in {}{}",
                recipients,
                elapsed,
                record.recipients_per_second,
                out.display(),
                if report { " (report.html)" } else { "" }
            );
        }
        Format::Json => println!("{summary_json}"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Sweep(args) => sweep(args),
        Command::Sensitivity(args) => sensitivity(args),
        Command::Calibrate(args) => calibrate(args),
        Command::Project(args) => project(args),
        Command::Merge {
            dirs,
            out,
            no_plots,
        } => merge(&dirs, out, no_plots),
        Command::Validate { files, sets } => {
            let mut failed = false;
            for f in &files {
                match Scenario::compose(Some(f), &sets) {
                    Ok(s) => println!(
                        "{}: ok (scenario {:?}, hash {})",
                        f.display(),
                        s.name,
                        &s.hash()[..12]
                    ),
                    Err(e) => {
                        failed = true;
                        eprintln!("{e}");
                    }
                }
            }
            if failed {
                return ExitCode::from(2);
            }
            Ok(())
        }
        Command::Show { scenario, sets } => load(scenario.as_deref(), &sets)
            .map(|s| print!("{}", s.to_toml()))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
