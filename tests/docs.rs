//! The man pages and shell completions in the repository are exactly what the clap definitions
//! generate now, and every test docs/SECURITY.md names exists. Needs no systemd:
//! `generate-docs` never touches the bus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

#[path = "support/completion.rs"]
mod completion;
use completion::{bash_complete, query};

/// The directories `generate-docs` writes, each holding a hand-written README.md besides the
/// generated files.
const GENERATED_DIRS: [&str; 2] = ["man", "completions"];

/// docs/SECURITY.md's table names, for each job input, the test that attacks it
/// (`tests/FILE.rs::name` or `src/...rs::name`): each must be a test function in that file, so
/// a renamed or deleted test cannot leave the table claiming a proof that is gone.
#[test]
fn every_test_security_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("docs/SECURITY.md")).expect("docs/SECURITY.md");
    let reference =
        regex::Regex::new(r"`((?:tests|src)/[A-Za-z0-9_/]+\.rs)::([a-z0-9_]+)`").unwrap();
    let mut named = 0;
    let mut missing = Vec::new();
    for found in reference.captures_iter(&table) {
        named += 1;
        let (file, test) = (&found[1], &found[2]);
        let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        let defined = regex::Regex::new(&format!(r"fn {test}\("))
            .unwrap()
            .is_match(&source);
        if !defined {
            missing.push(format!("{file}::{test}"));
        }
    }
    assert!(
        named >= 40,
        "only {named} tests named: is the table's form still `FILE::name`?"
    );
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md names tests that do not exist: {missing:#?}"
    );
}

#[test]
fn committed_man_pages_and_completions_match_the_clap_definitions() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = nomad_systemd(&["generate-docs".as_ref(), out.path().as_os_str()]);
    assert!(
        run.status.success(),
        "generate-docs failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for dir in GENERATED_DIRS {
        let generated = files(&out.path().join(dir));
        let committed = files(&repo.join(dir));
        let names: BTreeSet<&String> = generated.keys().chain(committed.keys()).collect();
        for name in names {
            let problem = match (generated.get(name), committed.get(name)) {
                (Some(new), Some(old)) if new != old => "differs from what is generated now",
                (Some(_), None) => "is generated but missing from the repository",
                (None, Some(_)) => "is in the repository but no longer generated",
                _ => continue,
            };
            stale.push(format!("{dir}/{name} {problem}"));
        }
    }
    assert!(
        stale.is_empty(),
        "generated docs are out of date:\n  {}\nrun `tools/gen-docs` and commit the result",
        stale.join("\n  ")
    );
}

#[test]
fn generate_docs_is_hidden_from_help_and_completions() {
    let help = nomad_systemd(&["--help".as_ref()]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("generate-docs"));
    let (offered, _) = query(&["nomad-systemd", ""], &[]);
    assert!(
        offered.iter().any(|c| c == "completion") && offered.iter().any(|c| c == "run"),
        "`nomad-systemd <TAB>` offered {offered:?}"
    );
    assert!(
        !offered.iter().any(|c| c == "generate-docs"),
        "completion offers the hidden generate-docs command: {offered:?}"
    );
}

/// The sections every page has beyond what clap knows, as `man` prints their headings.
const SECTIONS: [&str; 5] = [
    "EXIT STATUS",
    "ENVIRONMENT",
    "FILES",
    "EXAMPLES",
    "SEE ALSO",
];

/// Every committed page, rendered by `man` at 80 columns as a reader sees it, has the
/// sections an operator looks for, with something in each, and shows no roff of its own
/// (an escape or a request printed instead of obeyed).
#[test]
fn every_man_page_renders_with_exit_status_environment_files_examples_see_also() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = files(&repo.join("man"));
    let subcommands = [
        "run",
        "ps",
        "stats",
        "logs",
        "stop",
        "signal",
        "exec",
        "doctor",
        "plugin",
        "completion",
    ];
    for sub in subcommands {
        assert!(
            pages.contains_key(&format!("nomad-systemd-{sub}.1")),
            "no page for {sub}"
        );
    }
    assert!(pages.contains_key("nomad-systemd.1"));
    for name in pages.keys() {
        let run = Command::new("man")
            .args(["--local-file", "--encoding=UTF-8"])
            .arg(repo.join("man").join(name))
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING")
            .env("LANG", "C.UTF-8")
            .output()
            .expect("run man (tools/deps installs man-db and groff-base)");
        assert!(
            run.status.success() && run.stderr.is_empty(),
            "man {name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = String::from_utf8_lossy(&run.stdout);
        let headings: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with(' '))
            .collect();
        for section in SECTIONS {
            let at = headings.iter().position(|h| *h == section);
            assert!(
                at.is_some(),
                "{name} has no {section} section: {headings:?}"
            );
            let body = text
                .split(&format!("\n{section}\n"))
                .nth(1)
                .and_then(|rest| rest.lines().next())
                .unwrap_or_default();
            assert!(body.starts_with("       "), "{name}: {section} is empty");
        }
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{name}: wider than 80: {line:?}"
            );
            assert!(
                !line.contains("\\f")
                    && !line.contains("\\-")
                    && !line.contains("\\(")
                    && !line.contains("\\*")
                    && !line.trim_start().starts_with('.'),
                "{name}: roff shows through: {line:?}"
            );
        }
    }
}

#[test]
fn bash_completes_a_subcommands_options() {
    // What bash does on `nomad-systemd ps --<TAB>`: call the function the script registered
    // with the words so far, then offer what it left in COMPREPLY.
    let offered = bash_complete(&["nomad-systemd", "ps", "--"]);
    assert!(
        offered.iter().any(|l| l == "--all") && offered.iter().any(|l| l == "--long"),
        "`nomad-systemd ps --<TAB>` offered {offered:?}"
    );
    let offered = bash_complete(&["nomad-systemd", "signal", "web", "SIGT"]);
    assert!(
        offered.iter().any(|l| l == "SIGTERM") && offered.iter().any(|l| l == "SIGTRAP"),
        "`nomad-systemd signal web SIGT<TAB>` offered {offered:?}"
    );
}

#[test]
fn the_completion_command_prints_the_committed_scripts() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (shell, file) in [
        ("bash", "nomad-systemd.bash"),
        ("zsh", "_nomad-systemd"),
        ("fish", "nomad-systemd.fish"),
    ] {
        let run = nomad_systemd(&["completion".as_ref(), shell.as_ref()]);
        assert!(run.status.success(), "completion {shell} failed");
        let committed = std::fs::read(repo.join("completions").join(file)).expect(file);
        assert_eq!(
            run.stdout, committed,
            "completion {shell} differs from {file}"
        );
    }
    let help = nomad_systemd(&["--help".as_ref()]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("completion"));
}

fn nomad_systemd(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .args(args)
        .output()
        .expect("run nomad-systemd")
}

/// The generated files directly in `dir` (every regular file but the hand-written README.md),
/// by name, with their contents; none if `dir` is missing.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|entry| entry.expect("read directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, path)
        })
        .filter(|(name, _)| name != "README.md")
        .map(|(name, path)| {
            let contents = std::fs::read(&path).expect("read file");
            (name, contents)
        })
        .collect()
}
