//! Completing as bash does on TAB, with the committed script: for tests/docs.rs (no systemd)
//! and tests/cli_completion.rs (tasks on a real systemd). Included by path, so tests/docs.rs
//! need not build the rest of support.

use std::path::Path;
use std::process::Command;

/// Sources `completions/nomad-systemd.bash` with the built binary first on `$PATH` (the
/// script calls `nomad-systemd` by name), sets COMP_WORDS to `words` (the last being the
/// word completed), calls the function the script registered as bash would, and returns
/// what it left in COMPREPLY.
pub fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = r#"
        source "$1"
        shift
        complete_fn=$(complete -p nomad-systemd | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
        COMP_WORDS=("$@")
        COMP_CWORD=$(( $# - 1 ))
        COMP_TYPE=9
        "$complete_fn" nomad-systemd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .parent()
        .expect("binary directory");
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let run = Command::new("bash")
        .args(["-c", script, "bash"])
        .arg(repo.join("completions/nomad-systemd.bash"))
        .args(words)
        .env("PATH", std::env::join_paths(dirs).expect("join PATH"))
        .env_remove("NOMAD_SYSTEMD_BUS")
        .env_remove("NOMAD_SYSTEMD_SLICE")
        .output()
        .expect("run bash");
    assert!(
        run.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the binary answers for the last of `words`, asked as the bash script asks (the
/// words after `--`, the index of the one completed), one value a line; and its stderr.
pub fn query(words: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .arg("--")
        .args(words)
        .env_remove("NOMAD_SYSTEMD_BUS")
        .env_remove("NOMAD_SYSTEMD_SLICE")
        .env("_NOMAD_SYSTEMD_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .envs(env.iter().copied())
        .output()
        .expect("run nomad-systemd");
    assert!(
        run.status.success(),
        "completion query failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let values = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (values, String::from_utf8_lossy(&run.stderr).into_owned())
}
