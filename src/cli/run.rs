//! `nomad-systemd run`: start a Nomad-shaped task by hand.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::dry_run::{self, DryRun};
use super::foreground::{self, Stopping};
use super::format;
use super::input;
use super::log_time;
use super::progress::Progress;
use super::relay;
use super::task_file::{self, TaskFile};
use super::terminal::{printable, printable_lines};
use super::{GlobalArgs, OutputFormat};
use crate::core::capability::{CapSet, Capabilities};
use crate::core::driver_config::DriverConfig;
use crate::core::driver_config::UnitConfig;
use crate::core::logs::LogQuery;
use crate::core::sandbox::Sandbox;
use crate::core::standalone::{self, Destroyed, StandaloneTask};
use crate::core::{
    Bus, Engine, EngineOptions, Error, MemoryMax, Resources, Signal, Stdio, UnitName, host,
    host_unit, unit_policy,
};
use crate::plugin::rehearsal::Policy;

/// Where `--task-dir` creates allocation directories unless `--alloc-dir-root` says otherwise.
const DEFAULT_ALLOC_DIR_ROOT: &str = "/var/lib/nomad-systemd/alloc";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Read the task from a file written like a Nomad task (HCL, or TOML if it ends in
    /// .toml), checked as the plugin checks a job; options given here override it.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with_all = ["command", "argv"])]
    file: Option<PathBuf>,
    /// With -f and a whole job file: the task to run, as GROUP/TASK, or TASK when only one
    /// group has it [default: the job's only task].
    #[arg(long = "task", value_name = "GROUP/TASK", requires = "file")]
    pick: Option<String>,
    /// Start this installed unit instead of a program, as a job's `unit` does: Nomad's
    /// environment and resources in a runtime drop-in, Restart=no; a template (name@.service)
    /// runs as its instance for the allocation id. Refused if the unit is already running.
    #[arg(long, value_name = "UNIT", conflicts_with_all = ["file", "command", "argv"])]
    unit: Option<String>,
    /// The instance string for a template --unit [default: the allocation id].
    #[arg(long, value_name = "STRING", requires = "unit")]
    unit_instance: Option<String>,
    /// The program to run (instead of giving it after `--`).
    #[arg(long, value_name = "CMD", conflicts_with = "argv")]
    command: Option<String>,
    /// An argument for --command; repeat for more.
    #[arg(
        long = "arg",
        value_name = "ARG",
        requires = "command",
        allow_hyphen_values = true
    )]
    args: Vec<String>,
    /// The program and its arguments, never passed through a shell.
    #[arg(last = true, value_name = "CMD [ARGS]...")]
    argv: Vec<String>,

    /// Task name [default: the program's file name].
    #[arg(long)]
    name: Option<String>,
    /// Allocation id [default: a new UUID].
    #[arg(long, value_name = "ID")]
    alloc_id: Option<String>,
    /// Job name [default: the task name].
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Task group name [default: the task name].
    #[arg(long, value_name = "NAME")]
    task_group: Option<String>,

    /// Set an environment variable; repeat for more.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Run as this user [default: the service manager's (root on the system bus); with -f,
    /// the plugin's default_user, nobody].
    #[arg(long, add = clap_complete::ArgValueCandidates::new(super::candidates::users))]
    user: Option<String>,
    /// Run with this primary group.
    #[arg(long, add = clap_complete::ArgValueCandidates::new(super::candidates::groups))]
    group: Option<String>,
    /// Working directory inside the unit [default: /local with --task-dir].
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,

    /// CPU in MHz, as Nomad's resources.cpu (sets the CPU weight).
    #[arg(long, value_name = "MHZ", default_value_t = 0)]
    cpu: u64,
    /// Reserved cores as a cpuset list, e.g. 0-1,3; each must be online on this host.
    #[arg(long, value_name = "LIST", default_value = "", value_parser = input::cores)]
    cores: String,
    /// Memory, as Nomad's resources.memory: MiB, or with a unit (512M, 1G, 1.5G).
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = input::size_mib)]
    memory: u64,
    /// Hard memory limit above --memory, as Nomad's memory_max: MiB or with a unit; -1 for none.
    #[arg(long, value_name = "SIZE", allow_negative_numbers = true, value_parser = parse_memory_max)]
    memory_max: Option<MemoryMax>,
    /// The OOM killer's bias for the task, -1000 (never kill) to 1000 (kill first).
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        default_value_t = 0
    )]
    oom_score_adjust: i32,

    /// Signal a stop sends first [default: SIGTERM; with -f, SIGINT as Nomad].
    #[arg(long, value_name = "SIG", value_parser = input::signal, add = clap_complete::ArgValueCompleter::new(super::candidates::signals))]
    kill_signal: Option<Signal>,
    /// How long a stop waits before SIGKILL: seconds, or e.g. 500ms, 1m [default: 5s, as Nomad].
    #[arg(long, value_name = "DURATION", value_parser = input::duration)]
    kill_timeout: Option<Duration>,

    /// Create Nomad's task directories and bind them at /alloc, /local and /secrets.
    #[arg(long)]
    task_dir: bool,
    /// Where --task-dir creates <alloc-id>/ directories.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ALLOC_DIR_ROOT, requires = "task_dir")]
    alloc_dir_root: PathBuf,
    /// With --wait, --pipe or --pty: leave the ended task's unit loaded (for `status` and
    /// `logs`) and its --task-dir directories in place; `stop` removes both later. Without
    /// it both go when the task has ended.
    #[arg(long)]
    keep: bool,

    /// Append the task's stdout to this file or write it into this FIFO [default: journal].
    #[arg(long, value_name = "PATH", requires = "stderr")]
    stdout: Option<PathBuf>,
    /// Append the task's stderr to this file or write it into this FIFO [default: journal].
    #[arg(long, value_name = "PATH", requires = "stdout")]
    stderr: Option<PathBuf>,

    /// Wait for the task to exit, remove its unit, and exit with the task's exit status. On a
    /// terminal, the task's output is shown as it runs (followed from the journal, where it
    /// stays). Ctrl-C stops the task with its kill signal and SIGKILL after its kill timeout;
    /// a second Ctrl-C kills it at once.
    #[arg(long)]
    wait: bool,
    /// Give the task this command's own stdin, stdout and stderr, as `systemd-run --pipe`
    /// does: it reads what is piped in and writes where this command's output goes, not to
    /// the journal. Implies --wait.
    #[arg(long, conflicts_with_all = ["stdout", "stderr", "unit", "dry_run"])]
    pipe: bool,
    /// Give the task a new pseudo-terminal of this terminal's size, relayed to this command's
    /// stdin and stdout, as `systemd-run --pty` does: keys, Ctrl-C included, go to the task.
    /// Implies --wait.
    #[arg(long, conflicts_with_all = ["stdout", "stderr", "unit", "dry_run", "pipe"])]
    pty: bool,

    /// Start nothing: print the unit, its properties, its slice's and its drop-in exactly as
    /// they would be sent to systemd, and what the start would do first. Creates no unit,
    /// file, directory or user record.
    #[arg(long, conflicts_with = "wait")]
    dry_run: bool,
    /// With --dry-run: judge the task as the plugin would under this plugin config (the
    /// agent's `config` block for the plugin, in HCL, or JSON/TOML by extension), with the
    /// plugin's own errors; exits non-zero if the plugin would refuse it.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    plugin_config: Option<PathBuf>,
    /// With --dry-run: print as a table or as JSON.
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value = "table",
        requires = "dry_run"
    )]
    output: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: RunArgs) -> Result<ExitCode, Error> {
    let given = given_options(&args);
    // An error about a setting no option gave is about the task file, if there is one.
    let worded = |e| match &args.file {
        Some(file) => in_file(as_option(e, &given), file),
        None => as_option(e, &given),
    };
    let alloc_id = args
        .alloc_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let file = args
        .file
        .as_deref()
        .map(|f| task_file::read(f, args.pick.as_deref(), &alloc_id).map_err(|e| in_file(e, f)))
        .transpose()?;
    let origin = file.as_ref().and_then(|f| f.job.clone());
    // A file's `config { unit = ... }` starts that installed unit, as --unit does.
    let file_unit = file.as_ref().and_then(|f| f.config.unit.clone());
    let unit = args
        .unit
        .clone()
        .or_else(|| Some(file_unit.as_ref()?.name.clone()));
    let unit_instance = args
        .unit_instance
        .clone()
        .or_else(|| file_unit.as_ref()?.instance.clone());
    // A task from a file is a rehearsal of Nomad's run: what it will not do as Nomad would is
    // said, for a one-task file as for a job file's task.
    let mut differences: Vec<String> = origin
        .iter()
        .flat_map(|o| o.differences.iter().cloned())
        .collect();
    if file.is_some() && !args.task_dir && unit.is_none() {
        differences.push(
            "task directories: Nomad gives every task /alloc, /local and /secrets; --task-dir \
             creates them"
                .into(),
        );
    }
    for difference in &differences {
        eprintln!("differs from Nomad: {}", printable_lines(difference));
    }
    let (command, argv) = match (&file, args.command, args.argv.split_first()) {
        _ if unit.is_some() => (String::new(), Vec::new()),
        (Some(f), _, _) => (f.config.command.clone(), f.config.args.clone()),
        (None, Some(command), _) => (command, args.args),
        (None, None, Some((first, rest))) => (first.clone(), rest.to_vec()),
        (None, None, None) => {
            return Err(Error::argument(
                "CMD",
                "no program to run: give it after `--`, with --command, or in a task file (-f)",
            ));
        }
    };
    if (args.pipe || args.pty) && unit.is_some() {
        return Err(Error::invalid(
            if args.pipe { "pipe" } else { "pty" },
            "an installed unit's output goes where its own unit file sends it",
        ));
    }
    let wait = args.wait || args.pipe || args.pty;
    if args.keep && !wait {
        return Err(Error::argument(
            "--keep",
            "only with --wait, --pipe or --pty: without them run leaves the task running \
             (stop --keep keeps what a stop would remove)",
        ));
    }
    let mut pty = None;
    let stdio = match (&args.stdout, &args.stderr) {
        _ if args.pipe => Stdio::Inherit,
        _ if args.pty => {
            let (output, master) = relay::terminal()?;
            pty = Some(master);
            Stdio::To(output)
        }
        (Some(out), Some(err)) => Stdio::Files {
            stdout: out.clone(),
            stderr: err.clone(),
        },
        _ => Stdio::Journal,
    };
    // Shown live from the journal, when someone is watching (see `live_output`).
    let follow = wait && matches!(stdio, Stdio::Journal) && std::io::stdout().is_terminal();
    // What the command line gives wins over the file; the file over the defaults.
    let from_file = |get: fn(&TaskFile) -> u64| file.as_ref().map_or(0, get);
    let or_file =
        |flag: u64, get: fn(&TaskFile) -> u64| if flag != 0 { flag } else { from_file(get) };
    let mut env = file.as_ref().map(|f| f.env.clone()).unwrap_or_default();
    env.extend(args.env);
    if args.pty {
        relay::add_term(&mut env);
    }
    let mut resources = Resources {
        cpu_mhz: or_file(args.cpu, |f| f.cpu_mhz),
        cores: args.cores,
        memory_mb: or_file(args.memory, |f| f.memory_mb),
        memory_max: args
            .memory_max
            .or_else(|| Some(file.as_ref()?.memory_max))
            .unwrap_or_default(),
        oom_score_adjust: match (args.oom_score_adjust, &file) {
            (0, Some(f)) => f.config.oom_score_adj,
            (n, _) => n,
        },
        core_mhz: host::core_mhz().unwrap_or(0),
        ..Resources::default()
    };
    if let Some(f) = &file {
        f.config.resources.apply(&mut resources);
    }
    let unit_task_name = args.unit.as_deref().map(|u| {
        let stem = u.rsplit_once('.').map_or(u, |(stem, _)| stem);
        stem.trim_end_matches('@').to_string()
    });
    // A task from a file (a task file or a job file's) runs as the plugin would run it: as the
    // plugin's default user (nobody unless --plugin-config says otherwise) where a user can be
    // chosen, stopped with Nomad's default signal (SIGINT).
    let user = args
        .user
        .clone()
        .or_else(|| file.as_ref()?.user.clone())
        .or_else(|| {
            let dynamic = file.as_ref().is_some_and(|f| f.config.sandbox.dynamic_user);
            (file.is_some() && !dynamic && unit.is_none() && global.bus() == Bus::System)
                .then(|| default_user(args.plugin_config.as_deref()))
        });
    let standalone = StandaloneTask {
        name: args
            .name
            .or(unit_task_name)
            .or_else(|| file.as_ref()?.name.clone()),
        alloc_id: Some(alloc_id),
        job_name: args.job.or_else(|| Some(origin.as_ref()?.job.clone())),
        group_name: args
            .task_group
            .or_else(|| Some(origin.as_ref()?.group.clone())),
        command,
        args: argv,
        env,
        user: user.clone(),
        group: args.group.or_else(|| file.as_ref()?.config.group.clone()),
        working_dir: args.workdir.or_else(|| {
            file.as_ref()?
                .config
                .working_dir
                .as_ref()
                .map(PathBuf::from)
        }),
        resources,
        alloc_dir_root: args.task_dir.then_some(args.alloc_dir_root),
        kill_signal: args
            .kill_signal
            .or_else(|| file.as_ref()?.kill_signal)
            .or_else(|| file.is_some().then_some(Signal::INT)),
        kill_timeout: args.kill_timeout.or_else(|| file.as_ref()?.kill_timeout),
        sandbox: sandbox(file.as_ref().map(|f| &f.config), global.bus())?,
    };
    let mut spec = if args.dry_run {
        standalone.plan()
    } else {
        standalone.build()
    }
    .map_err(&worded)?;
    // A user manager cannot create the bind mount points in the host's root.
    spec.dirs_at_host_paths = global.bus() == Bus::User;
    if let Some(unit) = &unit {
        let name =
            host_unit::resolve(unit, unit_instance.as_deref(), &spec.alloc_id).map_err(&worded)?;
        unit_policy::check_always_denied(&name, unit_policy::own_unit().as_deref())
            .map_err(&worded)?;
        spec.host_unit = Some(name);
        // The operator's own command line: every variable it names passes, except those no
        // installed unit ever gets.
        spec.unit_env_allow = vec!["*".into()];
    }
    if args.dry_run {
        let steps = spec
            .dirs
            .iter()
            .flat_map(standalone::task_dirs)
            .map(|d| format!("create directory {}", d.display()))
            .collect();
        let mut options = EngineOptions::for_bus(global.bus());
        if let Some(slice) = &global.slice {
            options.slice = slice.clone();
        }
        return dry_run::run(DryRun {
            config: job_config(
                file.map(|f| f.config),
                &spec,
                unit.as_deref(),
                unit_instance.as_deref(),
            ),
            spec,
            stdio,
            user,
            plugin_config: args.plugin_config,
            steps,
            options,
            output: args.output,
        })
        .await
        .map_err(&worded);
    }

    let engine = global.engine().await?;
    // Watched from before the start: a Ctrl-C while the task starts stops it once started,
    // rather than ending this command and leaving the task running.
    let interrupts = wait.then(foreground::Interrupts::watch).transpose()?;
    // An installed unit's journal holds its earlier runs too: only this run's lines are shown.
    let starting_at = log_time::now_us();
    let started = {
        let _progress = Progress::show(format!("starting {}", printable(&spec.name)));
        engine.start(&spec, stdio).await.map_err(&worded)?
    };
    for warning in &started.warnings {
        eprintln!("warning: {}", printable_lines(warning));
    }
    let Some(interrupts) = interrupts else {
        println!("{}", started.unit);
        return Ok(ExitCode::SUCCESS);
    };
    eprintln!("Running as unit: {}", started.unit);
    let follow = if follow {
        live_output(&engine, global, &started.unit, starting_at).await
    } else {
        None
    };
    let stopping = Stopping {
        signal: spec.kill_signal,
        timeout: spec.kill_timeout,
    };
    let unit = &started.unit;
    let (keep, task_dir) = (args.keep, args.task_dir);
    // The unit is removed before the terminal's last output is drained: systemd holds the
    // task's terminal until then.
    let until_removed = |follow| async {
        let exit = foreground::wait(&engine, unit, stopping, follow, interrupts).await?;
        if !keep {
            engine
                .destroy_with_task_dirs(Destroyed::Started(&started), task_dir)
                .await?;
        }
        Ok(exit)
    };
    let exit = match pty {
        Some(master) => relay::run(master, until_removed(None)).await?,
        None => until_removed(follow).await?,
    };
    eprintln!("Finished: {exit}");
    Ok(ExitCode::from(format::exit_status(&exit)))
}

/// The task settings the command line set, each with the option that set it. A value an
/// option gave is the operator's argument, not a task config's: an error about it names the
/// option ([`as_option`]).
fn given_options(args: &RunArgs) -> Vec<(String, String)> {
    // The environment merges the file's and the options' variables: only one an option set,
    // or all of them without a file, is the options'.
    let env = args
        .env
        .iter()
        .map(|(k, _)| (format!("env.{k}"), format!("--env {k}")));
    let whole_env = (args.file.is_none() && !args.env.is_empty())
        .then(|| ("env".to_string(), "--env".to_string()));
    let options = [
        ("user", "--user", args.user.is_some()),
        ("group", "--group", args.group.is_some()),
        ("work_dir", "--workdir", args.workdir.is_some()),
        ("name", "--name", args.name.is_some()),
        ("alloc_id", "--alloc-id", args.alloc_id.is_some()),
        ("cores", "--cores", !args.cores.is_empty()),
        ("memory", "--memory", args.memory != 0),
        ("memory_max", "--memory-max", args.memory_max.is_some()),
        (
            "oom_score_adjust",
            "--oom-score-adjust",
            args.oom_score_adjust != 0,
        ),
        ("command", "--command", args.command.is_some()),
        ("command", "CMD", !args.argv.is_empty()),
        ("args", "--arg", !args.args.is_empty()),
        ("args", "ARGS", args.argv.len() > 1),
        ("unit", "--unit", args.unit.is_some()),
    ]
    .into_iter()
    .filter(|(_, _, given)| *given)
    .map(|(setting, option, _)| (setting.to_string(), option.to_string()));
    env.chain(whole_env).chain(options).collect()
}

/// `e` worded for the command line: an invalid task setting that an option of `given` set
/// (the setting itself, or the block it is in) is an invalid argument naming that option;
/// any other error as it is.
fn as_option(e: Error, given: &[(String, String)]) -> Error {
    let Error::InvalidConfig { setting, reason } = e else {
        return e;
    };
    let top = setting.split('.').next().unwrap_or_default();
    let option = given.iter().find(|(s, _)| *s == setting).or_else(|| {
        given
            .iter()
            .find(|(s, _)| s == top && !s.starts_with("env"))
    });
    match option {
        Some((_, option)) => Error::argument(option.clone(), reason),
        None => Error::InvalidConfig { setting, reason },
    }
}

/// `e` naming the task file `-f` gave when it is about a task setting (which then came from
/// the file): `-f jobs/web.nomad.hcl: config.bogus: is not an option here`.
fn in_file(e: Error, file: &Path) -> Error {
    match e {
        Error::InvalidConfig { setting, reason } => Error::argument(
            format!("-f {}", file.display()),
            format!("{setting}: {reason}"),
        ),
        other => other,
    }
}

/// What `run --wait` follows of the task's journal: all of a transient task's, an installed
/// unit's since its start, and nothing when its unit file sends neither stream to the
/// journal (or systemd no longer says where they go).
async fn live_output(
    engine: &Engine,
    global: &GlobalArgs,
    unit: &UnitName,
    starting_at: u64,
) -> Option<LogQuery> {
    let installed = !unit.is_task_unit();
    let mixed = if installed {
        let route = engine.output_route(unit).await.ok()?;
        if !route.stdout.reaches_journal() && !route.stderr.reaches_journal() {
            return None;
        }
        route.mixed
    } else {
        false
    };
    Some(LogQuery {
        unit: unit.clone(),
        bus: global.bus(),
        follow: true,
        stream: None,
        lines: None,
        since_us: installed.then_some(starting_at),
        until_us: None,
        mixed,
    })
}

/// The plugin config's `default_user`: `path`'s, or the plugin's default's. A file that does
/// not read is reported by the dry run that reads it again.
fn default_user(path: Option<&std::path::Path>) -> String {
    path.and_then(|p| Policy::read(p).ok())
        .unwrap_or_default()
        .default_user()
        .to_string()
}

/// The job's `config` block the task stands for: the task file's, with what the command line
/// gave instead.
fn job_config(
    file: Option<DriverConfig>,
    spec: &crate::core::TaskSpec,
    unit: Option<&str>,
    instance: Option<&str>,
) -> DriverConfig {
    let mut config = file.unwrap_or_else(|| DriverConfig {
        command: String::new(),
        unit: None,
        args: Vec::new(),
        working_dir: None,
        group: None,
        oom_score_adj: 0,
        logging: Default::default(),
        resources: Default::default(),
        sandbox: Default::default(),
        capabilities: Default::default(),
    });
    config.command.clone_from(&spec.command);
    config.args.clone_from(&spec.args);
    config.working_dir = spec.working_dir.as_ref().map(|d| d.display().to_string());
    config.group.clone_from(&spec.group);
    config.oom_score_adj = spec.resources.oom_score_adjust;
    if let Some(unit) = unit {
        config.command.clear();
        config.unit = Some(UnitConfig {
            name: unit.to_string(),
            instance: instance.map(str::to_string),
        });
    }
    config
}

/// The task file's sandbox with the plugin's defaults but none of its allow-lists: `run` is
/// an operator's tool, and whoever may start units on the bus can start any unit anyway.
/// Capabilities start from Nomad's default set; a user manager cannot change them.
fn sandbox(config: Option<&DriverConfig>, bus: Bus) -> Result<Sandbox, Error> {
    let (mut sandbox, request) = config.map_or_else(Default::default, |c| {
        (c.sandbox.clone(), c.capabilities.clone())
    });
    sandbox.capabilities = match bus {
        Bus::System => request.resolve(CapSet::default_set()),
        Bus::User if request.is_empty() => Capabilities::default(),
        Bus::User => {
            return Err(Error::invalid(
                "cap_add",
                "cap_add, cap_drop and ambient_capabilities change capabilities, which a user \
                 service manager (--bus user) cannot do",
            ));
        }
    };
    Ok(sandbox)
}

pub(super) fn parse_env(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))?;
    if !crate::core::mapping::environment::is_valid_name(key) {
        return Err(format!(
            "'{key}' is not a name systemd accepts (letters, digits and '_', not starting with a digit)"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

fn parse_memory_max(s: &str) -> Result<MemoryMax, String> {
    if s.trim() == "-1" {
        return Ok(MemoryMax::Unlimited);
    }
    let mb = input::size_mib(s)?;
    MemoryMax::from_nomad(i64::try_from(mb).map_err(|_| format!("'{s}' is too large"))?)
        .ok_or_else(|| format!("'{s}' is neither a size nor -1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(s, o)| (s.to_string(), o.to_string()))
            .collect()
    }

    #[test]
    fn a_setting_an_option_gave_is_named_by_the_option() {
        let given = given(&[("user", "--user"), ("env.A", "--env A")]);
        let e = as_option(Error::invalid("user", "'x' does not exist"), &given);
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert_eq!(e.to_string(), "--user: 'x' does not exist");
        let e = as_option(Error::invalid("env.A", "bad"), &given);
        assert_eq!(e.to_string(), "--env A: bad");
    }

    #[test]
    fn a_setting_the_file_gave_stays_a_task_config_error() {
        let given = given(&[("env.A", "--env A")]);
        for setting in ["env.B", "env", "group", "config.command"] {
            let e = as_option(Error::invalid(setting, "bad"), &given);
            assert!(
                matches!(&e, Error::InvalidConfig { setting: s, .. } if s == setting),
                "{e:?}"
            );
        }
        let e = as_option(Error::NotFound("x".into()), &given);
        assert!(matches!(e, Error::NotFound(_)));
    }

    #[test]
    fn a_setting_no_option_gave_is_the_task_files() {
        let file = Path::new("jobs/web.nomad.hcl");
        let e = in_file(
            Error::invalid("config.bogus", "is not an option here"),
            file,
        );
        assert_eq!(
            e.to_string(),
            "-f jobs/web.nomad.hcl: config.bogus: is not an option here"
        );
        let e = in_file(Error::argument("--memory", "bad"), file);
        assert_eq!(e.to_string(), "--memory: bad");
    }
}
