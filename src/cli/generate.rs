//! `nomad-systemd generate-docs DIR`: the man pages and shell completions, generated from the
//! clap definitions so they cannot drift from `--help`. Hidden: `tools/gen-docs` and packagers
//! call it; operators never need it. Needs no systemd.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_mangen::Man;
use roff::{Roff, bold, italic, roman};

use super::Cli;
use super::completion::{self, ShellArg};
use super::pages::{self, Page};

/// The name pages and completions are written for: the installed binary's.
const BIN: &str = "nomad-systemd";

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
    for shell in ShellArg::ALL {
        write(
            &completions.join(shell.file_name()),
            &completion::script(shell),
        )?;
    }
    Ok(())
}

/// Every man page with its file name: the top-level one first, then one per subcommand that
/// `--help` lists (so neither hidden commands nor `help` get a page).
fn man_pages() -> Vec<(String, Vec<u8>)> {
    // Without the after-help texts, which clap_mangen would print as an EXTRA section: the
    // pages say the same in their own sections. The version section names the release only:
    // the commit and the build's target in `--version` would make the committed pages differ
    // from build to build.
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
            let name = match cmd.get_name() {
                BIN => String::new(),
                sub => sub.to_string(),
            };
            let page = pages::page(&name)
                .unwrap_or_else(|| panic!("src/cli/pages.rs has no page for `{name}`"));
            // Every page's footer names the package, not the subcommand (which has no version).
            let man = Man::new(cmd).source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")));
            let mut rendered = Vec::new();
            man.render(&mut rendered)
                .expect("rendering into memory cannot fail");
            let rendered = String::from_utf8(rendered).expect("clap_mangen writes UTF-8");
            (
                man.get_filename(),
                with_sections(rendered, page).into_bytes(),
            )
        })
        .collect()
}

/// `rendered` with `page`'s own sections inserted before its VERSION section (or at its end):
/// TASK NAMES (top page), EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO, in the
/// order man-pages(7) gives them.
fn with_sections(rendered: String, page: &Page) -> String {
    let mut roff = Roff::new();
    if page.command.is_empty() {
        roff.control("SH", ["TASK NAMES"]);
        roff.text([roman(pages::TASK_NAMES_INTRO)]);
        for (form, example) in pages::TASK_NAMES {
            roff.control("TP", []);
            roff.text([roman(*form)]);
            roff.text([bold(*example)]);
        }
        roff.control("PP", []);
        roff.text([roman(pages::TASK_NAMES_OUTRO)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (status, when) in page.exit_status {
        roff.control("TP", []);
        roff.text([bold(*status)]);
        roff.text([roman(*when)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, what) in pages::environment(page) {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["FILES"]);
    for (path, what) in pages::files(page) {
        roff.control("TP", []);
        roff.text([italic(path)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["EXAMPLES"]);
    for (what, line) in page.examples {
        roff.control("PP", []);
        roff.text([roman(*what)]);
        roff.control("PP", []);
        roff.control("RS", ["4"]);
        roff.control("nf", []);
        roff.text([roman(*line)]);
        roff.control("fi", []);
        roff.control("RE", []);
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut see_also = Vec::new();
    let related = page.see_also.iter();
    let top = (!page.command.is_empty()).then_some(&"nomad-systemd(1)");
    for (i, reference) in top.into_iter().chain(related).enumerate() {
        let (name, section) = reference
            .split_once('(')
            .expect("see_also is name(section)");
        if i > 0 {
            see_also.push(roman(", "));
        }
        see_also.push(bold(name));
        see_also.push(roman(format!("({section}")));
    }
    roff.text(see_also);
    // Without the preamble `render` starts with: the page has it already.
    let sections = roff.render();
    let sections = &sections[sections.find("\n.SH").map_or(0, |i| i + 1)..];
    // No hyphenation: the pages are full of names, paths and options to be typed as shown.
    let rendered = rendered.replacen("\n.SH NAME\n", "\n.nh\n.ad l\n.SH NAME\n", 1);
    match rendered.find("\n.SH VERSION\n") {
        Some(at) => format!("{}{sections}{}", &rendered[..=at], &rendered[at + 1..]),
        None => format!("{rendered}{sections}"),
    }
}

fn write(path: &Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
