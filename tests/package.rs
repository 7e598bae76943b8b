//! The Debian package, installed with `dpkg -i` and used as an operator and Nomad's agent use
//! it, then removed with `dpkg -r`, which must leave nothing behind.
//!
//! `tools/package` builds the package (`tools/test` runs it before the suite when this file is
//! selected); without one for this version the test fails, saying so. It installs into the
//! system it runs on: in `tools/test`'s sandbox that is a throw-away copy-on-write root. It
//! refuses to touch a system where the package is already installed.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use nomad_systemd::core::cty::msgpack_from_json;
use nomad_systemd::plugin::proto::base as base_pb;
use nomad_systemd::plugin::proto::driver::fingerprint_response::HealthState;
use support::plugin::{Plugin, nomad_config};

const PACKAGE: &str = "nomad-systemd";
const BIN: &str = "/usr/bin/nomad-systemd";
/// The plugin_dir entry the package makes for Nomad's agent.
const PLUGIN: &str = "/usr/lib/nomad/plugins/nomad-systemd";
const EXAMPLES: &str = "/usr/share/doc/nomad-systemd/examples";
const BASH_COMPLETION: &str = "/usr/share/bash-completion/completions/nomad-systemd";

/// Where the package puts files: everything below these is compared before installing and
/// after removing.
const WATCHED: [&str; 8] = [
    "/usr/bin",
    "/usr/lib/nomad",
    "/usr/share/man/man1",
    "/usr/share/bash-completion",
    "/usr/share/zsh/vendor-completions",
    "/usr/share/fish",
    "/usr/share/doc/nomad-systemd",
    "/var/lib/dpkg/info",
];

/// The package `tools/package` built for this crate's version.
fn package_file() -> PathBuf {
    let pattern = format!(
        "{}/target/debian/{PACKAGE}_{}-*.deb",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_PKG_VERSION")
    );
    let found: Vec<PathBuf> = glob::glob(&pattern)
        .expect("a valid pattern")
        .filter_map(Result::ok)
        .collect();
    match found.as_slice() {
        [one] => one.clone(),
        [] => panic!(
            "no package matches {pattern}: run `tools/package` first (`tools/test --test package` \
             does)"
        ),
        many => panic!("several packages match {pattern}: {many:?}; run `tools/package` again"),
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// `program args` must succeed; returns its stdout.
fn succeeds(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// dpkg's state for the package: `installed`, `not-installed`, `config-files`, ...
fn package_status() -> String {
    let out = run("dpkg-query", &["-W", "-f", "${db:Status-Status}", PACKAGE]);
    match String::from_utf8_lossy(&out.stdout).trim() {
        "" => "not-installed".into(),
        status => status.into(),
    }
}

/// Every path below the watched directories.
fn files() -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, into: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            into.insert(path.clone());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, into);
            }
        }
    }
    let mut all = BTreeSet::new();
    for dir in WATCHED {
        let dir = Path::new(dir);
        if dir.exists() {
            all.insert(dir.to_path_buf());
        }
        walk(dir, &mut all);
    }
    all
}

/// Removes the package if a check fails while it is installed, so the remaining tests run on
/// the system as it was.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = run("dpkg", &["--purge", PACKAGE]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_package_installs_runs_tasks_serves_nomad_and_removes_without_a_trace() {
    let deb = package_file();
    let status = package_status();
    assert_eq!(
        status, "not-installed",
        "{PACKAGE} is already known to dpkg here ({status}); this test installs and removes \
         it, so it runs only where it is absent (tools/test's sandbox)"
    );
    let before = files();

    succeeds("dpkg", &["-i", deb.to_str().unwrap()]);
    let installed = Installed;
    assert_eq!(package_status(), "installed");
    let listed = succeeds("dpkg", &["-L", PACKAGE]);
    for path in [
        BIN,
        PLUGIN,
        "/usr/share/man/man1/nomad-systemd.1.gz",
        "/usr/share/man/man1/nomad-systemd-run.1.gz",
        BASH_COMPLETION,
        "/usr/share/zsh/vendor-completions/_nomad-systemd",
        "/usr/share/fish/vendor_completions.d/nomad-systemd.fish",
        "/usr/share/doc/nomad-systemd/README.md",
        "/usr/share/doc/nomad-systemd/CHANGELOG.md",
        "/usr/share/doc/nomad-systemd/copyright",
        "/usr/share/doc/nomad-systemd/examples/agent.hcl",
        "/usr/share/doc/nomad-systemd/examples/batch.nomad.hcl",
        "/usr/share/doc/nomad-systemd/examples/web.task.toml",
        "/usr/share/doc/nomad-systemd/examples/units/webserver@.service",
        "/usr/share/doc/nomad-systemd/examples/polkit/50-nomad-systemd.rules",
    ] {
        assert!(
            listed.lines().any(|l| l == path),
            "the package does not install {path}; it lists:\n{listed}"
        );
        assert!(
            Path::new(path).exists(),
            "{path} is in the package but not on disk (a dpkg path-exclude in \
             /etc/dpkg/dpkg.cfg.d?)"
        );
    }

    // The polkit rule is an example: nothing of it is where polkitd reads rules.
    assert!(
        !listed.contains("polkit-1/rules.d"),
        "the package installs an active polkit rule:\n{listed}"
    );

    // The plugin_dir entry is a relative link to the binary, so both stay one file.
    assert_eq!(
        std::fs::read_link(PLUGIN).expect("the plugin_dir entry is a symlink"),
        Path::new("../../../bin/nomad-systemd")
    );
    assert_eq!(
        std::fs::canonicalize(PLUGIN).unwrap(),
        Path::new(BIN),
        "{PLUGIN} must resolve to {BIN}"
    );

    // --version names the commit this test was built from: a package from another commit is
    // stale. (Uncommitted changes may differ: each build reads the tree when it runs.)
    let version = succeeds(BIN, &["--version"]);
    let mut lines = version.lines();
    assert_eq!(
        lines.next(),
        Some(format!("nomad-systemd {}", env!("CARGO_PKG_VERSION")).as_str()),
        "{version}"
    );
    let commit = env!("NOMAD_SYSTEMD_COMMIT").trim_end_matches("-dirty");
    let packaged = lines
        .next()
        .and_then(|l| l.strip_prefix("commit:   "))
        .unwrap_or_else(|| panic!("no commit line in {version}"));
    assert_eq!(
        packaged.trim_end_matches("-dirty"),
        commit,
        "the package was built from another commit than this test; run `tools/package` \
         again:\n{version}"
    );
    assert!(version.contains("\nsystemd:  "), "{version}");

    // The installed CLI runs a task under the system's systemd.
    let task = run(BIN, &["run", "--wait", "--", "/bin/true"]);
    assert!(
        task.status.success(),
        "`nomad-systemd run --wait -- /bin/true` failed ({}): {}{}",
        task.status,
        String::from_utf8_lossy(&task.stdout),
        String::from_utf8_lossy(&task.stderr)
    );

    // man finds and renders the pages.
    assert_eq!(
        succeeds("man", &["-w", "nomad-systemd"]).trim(),
        "/usr/share/man/man1/nomad-systemd.1.gz"
    );
    for (page, text) in [
        ("nomad-systemd", "systemd transient units"),
        ("nomad-systemd-run", "--dry-run"),
    ] {
        let out = Command::new("man")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man runs");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && shown.contains(text),
            "`man {page}` ({}) does not show {text:?}:\n{shown}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // bash loads the completion and binds it to the command.
    let complete = succeeds(
        "bash",
        &[
            "-c",
            &format!("source {BASH_COMPLETION} && complete -p nomad-systemd"),
        ],
    );
    assert!(
        complete.starts_with("complete ") && complete.trim_end().ends_with(" nomad-systemd"),
        "{complete}"
    );

    // Nomad's agent launches the plugin_dir entry: the go-plugin handshake, then the plugin
    // answers as a healthy driver named "systemd".
    // SetConfig gets the sample agent config's block, as the agent would send it.
    let config = agent_plugin_config();
    let plugin = Plugin::launch_as(0, 0, Path::new(PLUGIN), &[]);
    let mut conn = plugin.connect().await;
    conn.set_config(msgpack_from_json(&config), nomad_config())
        .await
        .expect("SetConfig with agent.hcl's config block");
    let info = conn
        .base
        .plugin_info(base_pb::PluginInfoRequest {})
        .await
        .expect("PluginInfo")
        .into_inner();
    assert_eq!(info.name, "systemd");
    assert_eq!(info.plugin_version, env!("CARGO_PKG_VERSION"));
    let fingerprint = tokio::time::timeout(Duration::from_secs(30), conn.first_fingerprint()).await;
    let fingerprint = fingerprint.expect("a fingerprint within 30 s");
    assert_eq!(
        fingerprint.health,
        HealthState::Healthy as i32,
        "{fingerprint:?}"
    );
    drop(conn);
    drop(plugin);

    // The installed CLI judges a task under the same block as the plugin would.
    dry_run_is_allowed_under(&config);

    succeeds("dpkg", &["-r", PACKAGE]);
    drop(installed);
    assert_eq!(package_status(), "not-installed");
    let after = files();
    let left: Vec<_> = after.difference(&before).collect();
    let gone: Vec<_> = before.difference(&after).collect();
    assert!(
        left.is_empty() && gone.is_empty(),
        "dpkg -r left {left:#?} and took {gone:#?}"
    );
}

/// The `config` of the installed `examples/agent.hcl`'s `plugin "nomad-systemd"` block, whose
/// `plugin_dir` must be where the package puts the plugin.
fn agent_plugin_config() -> serde_json::Value {
    let path = Path::new(EXAMPLES).join("agent.hcl");
    let text = std::fs::read_to_string(&path).expect("the installed agent.hcl");
    let agent: hcl::Value = hcl::from_str(&text).expect("agent.hcl is HCL");
    let agent = serde_json::to_value(agent).unwrap();
    assert_eq!(
        agent["plugin_dir"], "/usr/lib/nomad/plugins",
        "agent.hcl's plugin_dir is where the package puts the plugin"
    );
    let config = &agent["plugin"]["nomad-systemd"]["config"];
    assert!(
        config.is_object(),
        "agent.hcl has no plugin \"nomad-systemd\" {{ config {{ ... }} }} block: {agent}"
    );
    config.clone()
}

/// The installed binary's `run --dry-run --plugin-config` allows a plain task under `config`.
fn dry_run_is_allowed_under(config: &serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("plugin.json");
    std::fs::write(&file, config.to_string()).unwrap();
    let verdict = succeeds(
        BIN,
        &[
            "run",
            "--dry-run",
            "--plugin-config",
            file.to_str().unwrap(),
            "--",
            "/bin/true",
        ],
    );
    assert!(verdict.contains("allowed"), "{verdict}");
}
