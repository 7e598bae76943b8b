//! The man pages and shell completions in the repository are exactly what the clap definitions
//! generate now, and every test docs/SECURITY.md names exists. Needs no systemd:
//! `generate-docs` never touches the bus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

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
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, script) in files(&repo.join("completions")) {
        assert!(
            !String::from_utf8_lossy(&script).contains("generate-docs"),
            "completions/{name} offers the hidden generate-docs command"
        );
    }
}

#[test]
fn bash_completes_a_subcommands_options() {
    // What bash does on `nomad-systemd ps --<TAB>`: call the function the script registered
    // with the words so far, then offer what it left in COMPREPLY.
    let script = r#"
        source "$1"
        complete_fn=$(complete -p nomad-systemd | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
        COMP_WORDS=(nomad-systemd ps --)
        COMP_CWORD=2
        "$complete_fn" nomad-systemd -- ps
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let completions = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/nomad-systemd.bash");
    let run = Command::new("bash")
        .args(["-c", script, "bash"])
        .arg(&completions)
        .output()
        .expect("run bash");
    let offered = String::from_utf8_lossy(&run.stdout);
    assert!(
        offered.lines().any(|l| l == "--all") && offered.lines().any(|l| l == "--long"),
        "`nomad-systemd ps --<TAB>` offered {offered:?} (stderr: {})",
        String::from_utf8_lossy(&run.stderr)
    );
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
