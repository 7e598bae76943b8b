//! The operator's CLI: the same core as the plugin, driven by hand. One file per subcommand;
//! nothing here knows what a D-Bus property is.

mod candidates;
mod completion;
mod confirm;
mod doctor;
mod dry_run;
mod exec;
#[cfg(test)]
mod fixtures;
mod foreground;
mod format;
mod generate;
mod input;
mod job_file;
mod listing;
mod log_time;
mod logs;
mod own_task;
mod pages;
mod progress;
mod ps;
mod relay;
mod resolve;
mod run;
mod selection;
mod signal;
mod stats;
mod status;
mod stop;
mod task_file;
mod terminal;
mod version;

use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::core::{Bus, Engine, EngineOptions, Error};

#[derive(Debug, Parser)]
#[command(
    name = "nomad-systemd",
    version,
    long_version = version::long_version(),
    about = "Run Nomad-style tasks as systemd transient units",
    long_about = "Run Nomad-style tasks as systemd transient units.\n\n\
        The same engine serves the Nomad task-driver plugin; these commands launch and inspect \
        its units by hand, so a task config can be debugged outside Nomad."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Which service manager runs the tasks.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "system",
        env = "NOMAD_SYSTEMD_BUS"
    )]
    pub bus: BusArg,
    /// The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice
    /// with --bus user]. Given, ps and task names see only the tasks in it; otherwise every
    /// task on the bus.
    #[arg(long, global = true, env = "NOMAD_SYSTEMD_SLICE")]
    pub slice: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BusArg {
    System,
    User,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a task as a transient unit and print its unit name.
    Run(Box<run::RunArgs>),
    /// List task units.
    Ps(ps::PsArgs),
    /// Show a task's resource usage.
    Stats(stats::StatsArgs),
    /// Show one task in full: unit, state, process, resources, sandbox and how it ended.
    #[command(
        long_about = "Show one task in full, as `systemctl status` shows a unit: its unit \
        name, job, group, task and allocation, who started it, its state and since when, its \
        main PID, command and user, the resources it asked for (in Nomad's terms) and the \
        cgroup limits in effect, what it uses now (memory, CPU, processes), its sandbox and, \
        once it has ended, how (exit code, signal, out of memory). With -o json, one object; \
        a value nobody reports is null."
    )]
    Status(status::StatusArgs),
    /// Print a task's output from the journal.
    #[command(
        long_about = "Print a task's output from the journal: its stdout on stdout, its \
        stderr on stderr (or, with -o json, one object per line on stdout)."
    )]
    Logs(logs::LogsArgs),
    /// Stop tasks and remove their units, printing how each ended.
    Stop(stop::StopArgs),
    /// Send a signal to a task's main process without stopping it.
    #[command(
        long_about = "Send a signal to a task's main process without stopping it.\n\n\
        The task keeps running: for a reload or a log reopen, as `nomad alloc signal`. Only \
        the main process gets the signal, as from Nomad's SignalTask; a task whose children \
        need it passes it on. The task is named as for every command (see `nomad-systemd \
        --help`), and must be one of this tool's tasks."
    )]
    Signal(signal::SignalArgs),
    /// Run a command inside a running task: its user, environment, directories and slice.
    Exec(exec::ExecArgs),
    /// Show what the plugin's fingerprint sees on this host, and what to change.
    #[command(
        long_about = "Show what the plugin's fingerprint sees on this host, and what to \
        change.\n\n\
        Reports the systemd version (and whether it is supported), the cgroup mode and the \
        controllers the task slice can have, the process serving the bus, the user manager \
        (--bus user), polkit, nss-systemd (for Nomad's dynamic workload users) and Nomad's CPU \
        partitions; then each finding with what to change, and the health the plugin would \
        report to Nomad (unhealthy on an unsupported host, such as systemd older than 247). \
        Changes nothing."
    )]
    Doctor(doctor::DoctorArgs),
    /// Serve the Nomad task-driver plugin protocol (Nomad's client starts this itself).
    #[command(long_about = "Serve the Nomad task-driver plugin protocol.\n\n\
        Nomad's client starts the binary from its plugin_dir, with no arguments and its magic \
        cookie in the environment; it then runs as this command. Started by hand, it explains \
        that and exits 1.")]
    Plugin,
    /// Print the shell completion script for bash, zsh or fish.
    #[command(
        long_about = "Print the shell completion script for bash, zsh or fish.\n\n\
        The script completes subcommands and options, and asks this binary (found on $PATH) for \
        the values it knows: the tasks running now (unit names, job/task, allocation id \
        prefixes, task names) wherever a TASK goes, signal names, and users and groups. Load \
        it in the current shell, or install it where the shell looks (see EXAMPLES and FILES \
        in the manual)."
    )]
    Completion(completion::CompletionArgs),
    /// Write the man pages and shell completions generated from these definitions into
    /// DIR/man and DIR/completions.
    #[command(hide = true)]
    GenerateDocs(generate::GenerateArgs),
}

impl GlobalArgs {
    fn bus(&self) -> Bus {
        match self.bus {
            BusArg::System => Bus::System,
            BusArg::User => Bus::User,
        }
    }

    /// The slice the operator named, which narrows the tasks seen ([`listing`]).
    fn scope(&self) -> Option<&str> {
        self.slice.as_deref()
    }

    async fn engine(&self) -> Result<Engine, Error> {
        let mut options = EngineOptions::for_bus(self.bus());
        if let Some(slice) = &self.slice {
            options.slice = slice.clone();
        }
        Engine::connect(options).await
    }
}

/// The command line's definition: [`Cli`]'s, with each command's exit statuses and examples
/// (and the top one's forms of task names) from [`pages`] after the options in `--help`.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for page in pages::PAGES {
        let text = pages::after_help(page);
        cmd = if page.command.is_empty() {
            cmd.after_long_help(text)
        } else {
            cmd.mut_subcommand(page.command, |sub| sub.after_long_help(text))
        };
    }
    cmd
}

/// Parses the command line, runs it and turns the outcome into the process's exit status:
/// 0 on success, the task's own status for `run --wait`, 1 with a one-line message on errors,
/// 2 for usage errors (clap's: an option's value that does not parse). A value that parses
/// but that the task cannot take is an error naming the option ([`Error::InvalidArgument`]),
/// exit status 1 as for every refusal.
pub fn main() -> ExitCode {
    completion::answer_if_asked();
    // The pages' text is for `--help` (and `help`) alone; a command that runs goes without
    // building it (0.5 M instructions, 8 % of a `run --wait`'s).
    let definition = if help_asked() {
        command()
    } else {
        Cli::command()
    };
    let cli = match Cli::from_arg_matches(&definition.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Command::Plugin = cli.command {
        return crate::plugin::main();
    }
    if let Command::GenerateDocs(args) = &cli.command {
        return generate::run(args);
    }
    if let Command::Completion(args) = &cli.command {
        return completion::run(args);
    }
    restore_default_sigpipe();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // One thread: a command follows one task or one listing. With worker threads, a quarter
    // of `run --wait`'s CPU went to waking them (futex), and each run took 1.2-2.4 ms longer
    // (interleaved medians in the sandbox). Blocking work has threads of its own (the
    // terminal relays) or `spawn_blocking`.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => fail(&render(&e)),
    }
}

/// Whether the command line may ask for the long help: `--help` or `help` anywhere (a task's
/// own argument too, which only costs the pages' text).
fn help_asked() -> bool {
    std::env::args_os()
        .skip(1)
        .any(|arg| arg == "--help" || arg == "help")
}

async fn dispatch(cli: Cli) -> Result<ExitCode, Error> {
    let global = &cli.global;
    match cli.command {
        Command::Run(args) => run::run(global, *args).await,
        Command::Ps(args) => ps::run(global, args).await,
        Command::Stats(args) => stats::run(global, args).await,
        Command::Status(args) => status::run(global, args).await,
        Command::Logs(args) => logs::run(global, args).await,
        Command::Stop(args) => stop::run(global, args).await,
        Command::Signal(args) => signal::run(global, args).await,
        Command::Exec(args) => exec::run(global, args).await,
        Command::Doctor(args) => doctor::run(global, args).await,
        Command::Plugin => unreachable!("the plugin runs before the CLI's runtime starts"),
        Command::GenerateDocs(_) => unreachable!("docs are generated before the runtime starts"),
        Command::Completion(_) => unreachable!("scripts are printed before the runtime starts"),
    }
}

/// A CLI whose reader went away (`nomad-systemd ps | head`) should end quietly, as `cat`
/// does, rather than fail on its next write.
fn restore_default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL installs no
    // Rust handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn fail(message: &str) -> ExitCode {
    eprintln!("nomad-systemd: {message}");
    ExitCode::FAILURE
}

/// An error with a hint at what to do next.
pub(super) fn render(e: &Error) -> String {
    let hint = match e {
        Error::Unreachable { bus: "user", .. } => {
            "\n  hint: is your user manager running? `systemctl --user is-system-running` \
             says; it needs a login session or `loginctl enable-linger`, and XDG_RUNTIME_DIR \
             set to its directory"
        }
        Error::Unreachable { .. } => {
            "\n  hint: is systemd running here (as PID 1)? `systemctl is-system-running` says; \
             --bus user talks to your own user manager instead"
        }
        Error::NotFound(_) => "\n  hint: `nomad-systemd ps --all` lists the task units",
        Error::Refused { message, .. }
            if message.contains("Access denied")
                || message.contains("Interactive authentication") =>
        {
            "\n  hint: managing units on the system bus needs root, or the polkit rule \
             (50-nomad-systemd.rules) naming this user; try sudo or --bus user"
        }
        _ => "",
    };
    // An error may quote the job author's names or values.
    format!("{}{hint}", terminal::printable_lines(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_what_an_installed_binary_has() {
        let unreachable = |bus| Error::Unreachable {
            bus,
            reason: "no socket".into(),
        };
        let user = render(&unreachable("user"));
        assert!(!user.contains("--bus user"), "{user}");
        for e in [
            unreachable("system"),
            unreachable("user"),
            Error::NotFound("x.service".into()),
        ] {
            let text = render(&e);
            assert!(text.contains("hint: "), "{text}");
            assert!(!text.contains("tools/") && !text.contains(".ci/"), "{text}");
        }
    }
}
