//! `nomad-systemd generate-docs DIR`: the man pages and shell completions, generated from the
//! clap definitions so they cannot drift from `--help`. Hidden: `tools/gen-docs` and packagers
//! call it; operators never need it. Needs no systemd.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::{Generator, Shell};
use clap_mangen::Man;

use super::Cli;

/// The name pages and completions are written for: the installed binary's.
const BIN: &str = "nomad-systemd";

/// The shells completions are generated for, each with its own conventional file name.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write man/ and completions/ into (both created if missing).
    dir: PathBuf,
}

pub fn run(args: &GenerateArgs) -> ExitCode {
    match generate(&args.dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(&message),
    }
}

/// Writes `DIR/man/nomad-systemd.1`, a `nomad-systemd-SUBCOMMAND.1` for every visible
/// subcommand, and `DIR/completions/` for bash, zsh and fish, overwriting what is there and
/// leaving other files alone.
///
/// The output depends on the clap definitions and the crate version only (no date, nothing
/// from the environment or the terminal), so it can be committed and compared byte for byte.
/// An error names the file that could not be written.
fn generate(dir: &Path) -> Result<(), String> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for sub in [&man, &completions] {
        std::fs::create_dir_all(sub)
            .map_err(|e| format!("cannot create {}: {e}", sub.display()))?;
    }
    for (name, page) in man_pages() {
        write(&man.join(name), &page)?;
    }
    for shell in SHELLS {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut completed_command(), BIN, &mut script);
        if shell == Shell::Bash {
            script = fix_bash_subcommand_states(script);
        }
        write(&completions.join(shell.file_name(BIN)), &script)?;
    }
    Ok(())
}

/// Every man page with its file name: the top-level one first, then one per subcommand that
/// `--help` lists (so neither hidden commands nor `help` get a page).
fn man_pages() -> Vec<(String, Vec<u8>)> {
    // The version section names the release only: the commit and the build's target in
    // `--version` would make the committed pages differ from build to build.
    let mut top = Cli::command()
        .disable_help_subcommand(true)
        .long_version(None::<&str>);
    // Building gives each subcommand its display name (`nomad-systemd-run`): the name of its
    // page, and the name the top page's SUBCOMMANDS section refers readers to.
    top.build();
    let subcommands: Vec<clap::Command> = top
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    std::iter::once(top)
        .chain(subcommands)
        .map(|cmd| {
            // Every page's footer names the package, not the subcommand (which has no version).
            let man = Man::new(cmd).source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")));
            let mut page = Vec::new();
            man.render(&mut page)
                .expect("rendering into memory cannot fail");
            (man.get_filename(), exit_status_section(page))
        })
        .collect()
}

/// The heading that turns a command's after-help text into an EXIT STATUS section.
const EXIT_STATUS: &str = ".SH EXTRA\nExit status:\n";

/// A page whose after-help text starts with `Exit status:` gets it as the conventional EXIT
/// STATUS section (clap_mangen titles every after-help EXTRA), each `CODE  meaning` line as
/// a tagged paragraph. Other pages are returned unchanged.
fn exit_status_section(page: Vec<u8>) -> Vec<u8> {
    let page = String::from_utf8(page).expect("clap_mangen writes UTF-8");
    let Some(start) = page.find(EXIT_STATUS) else {
        return page.into_bytes();
    };
    let body_start = start + EXIT_STATUS.len();
    let body_end = page[body_start..]
        .find("\n.SH ")
        .map_or(page.len(), |i| body_start + i + 1);
    let mut section = String::from(".SH \"EXIT STATUS\"\n");
    for line in page[body_start..body_end].lines() {
        match line.split_once("  ") {
            Some((code, meaning)) => {
                section.push_str(&format!(".TP\n{code}\n{}\n", meaning.trim()));
            }
            None => section.push_str(&format!("{line}\n")),
        }
    }
    format!("{}{section}{}", &page[..start], &page[body_end..]).into_bytes()
}

/// `Cli` as completions should see it: without its hidden subcommands, which completion
/// scripts (unlike `--help` and man pages) would otherwise offer. Carries what completions
/// read (name, version, about texts, the global options, the visible subcommands).
fn completed_command() -> clap::Command {
    let full = Cli::command();
    let visible: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let mut cmd = clap::Command::new(BIN)
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(visible);
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    if let Some(long_about) = full.get_long_about() {
        cmd = cmd.long_about(long_about.clone());
    }
    cmd
}

/// clap_complete 4.6.11's bash script spells the state for `nomad-systemd SUB` one way where
/// it sets it (`nomad__systemd__subcmd__SUB`) and another where it matches it
/// (`nomad__subcmd__systemd__subcmd__SUB`) whenever the binary's name has a hyphen, so no
/// subcommand's options would ever complete (clap-rs/clap#6421). This spells the matching side
/// like the setting side; once clap_complete is fixed the wrong spelling no longer occurs and
/// this changes nothing. `tests/docs.rs` checks that `ps --` completes `ps`'s options.
fn fix_bash_subcommand_states(script: Vec<u8>) -> Vec<u8> {
    let script = String::from_utf8(script).expect("clap_complete writes UTF-8");
    let wrong = BIN.replace('-', "__subcmd__");
    let right = BIN.replace('-', "__");
    script.replace(&wrong, &right).into_bytes()
}

fn write(path: &Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
