//! `nomad-systemd completion SHELL`: the shell completion scripts, and the answers they ask
//! this binary for.
//!
//! The scripts are clap_complete's dynamic ones ([`clap_complete::env`]): on every TAB the
//! shell runs `nomad-systemd` with [`VAR`] set and the words typed so far, and the binary
//! answers from the same clap definitions it parses with, so subcommands, options and their
//! values complete the same in bash, zsh and fish, including the values only a running
//! system knows ([`super::candidates`]: tasks, signals, users). The scripts hold no list of
//! options and so never go stale; they need only find `nomad-systemd` on `$PATH`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

/// The variable that turns a run of the binary into a completion query. Not clap's default
/// `COMPLETE`: a name this generic could be set in Nomad's agent environment, which the
/// plugin inherits.
const VAR: &str = "_NOMAD_SYSTEMD_COMPLETE";

/// The name the scripts complete and the program they call: the installed binary's.
const BIN: &str = "nomad-systemd";

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    shell: ShellArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

impl ShellArg {
    pub const ALL: [ShellArg; 3] = [ShellArg::Bash, ShellArg::Zsh, ShellArg::Fish];

    fn completer(self) -> &'static dyn EnvCompleter {
        match self {
            ShellArg::Bash => &Bash,
            ShellArg::Zsh => &Zsh,
            ShellArg::Fish => &Fish,
        }
    }

    /// The file name the shell looks the script up by.
    pub fn file_name(self) -> &'static str {
        match self {
            ShellArg::Bash => "nomad-systemd.bash",
            ShellArg::Zsh => "_nomad-systemd",
            ShellArg::Fish => "nomad-systemd.fish",
        }
    }
}

pub fn run(args: &CompletionArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(&script(args.shell))
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&format!("cannot write the script: {e}")),
    }
}

/// The script for `shell`: the same bytes whoever runs it and wherever (no path of this
/// machine in it), so it can be committed and packaged.
pub fn script(shell: ShellArg) -> Vec<u8> {
    let mut script = Vec::new();
    shell
        .completer()
        .write_registration(VAR, BIN, BIN, BIN, &mut script)
        .expect("writing into memory cannot fail");
    script
}

/// When the shell is asking for completions ([`VAR`] set), prints them and exits; otherwise
/// returns at once. Must run before anything is printed.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(super::command)
        .var(VAR)
        .bin(BIN)
        .completer(BIN)
        .complete();
}
