//! `run --dry-run` against a real systemd: it prints the unit, its properties and its slice's
//! as they would be sent, starts no unit and creates no directory; under `--plugin-config` it
//! gives the plugin's own verdict, and a refusal is the error the plugin returns to Nomad.

mod support;

use std::path::Path;

use rmpv::Value;
use support::plugin::{Alloc, Plugin, shell_config};
use support::units;
use support::*;

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// The units systemd has loaded whose names contain `text`.
fn loaded_units(text: &str) -> String {
    units::systemctl(&[
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        &format!("*{text}*"),
    ])
}

/// The value column of the property `name` in a dry run's table.
fn row<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} row in {out}"))
        .trim_start()
}

#[test]
fn a_dry_run_prints_the_unit_and_its_slice_and_starts_and_creates_nothing() {
    let tag = tag();
    let name = format!("dry-{tag}");
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("alloc-root");
    let root_arg = root.display().to_string();
    let args = [
        "run",
        "--dry-run",
        "--name",
        &name,
        "--task-dir",
        "--alloc-dir-root",
        &root_arg,
        "--",
        "/bin/echo",
        "a b",
        "c",
    ];
    let out = cli(&args).ok();
    assert_eq!(
        row(&out, "ExecStart"),
        r#"a(sasb)  [("/bin/echo", ["/bin/echo", "a b", "c"], false)]"#,
        "{out}"
    );
    assert_eq!(row(&out, "Restart"), r#"s        "no""#, "{out}");
    // The unit goes into its own slice, created in the same call.
    let slice = row(&out, "Slice")
        .strip_prefix("s")
        .unwrap()
        .trim()
        .trim_matches('"');
    assert!(
        slice.starts_with("system-nomad-") && slice.ends_with(".slice"),
        "{slice}"
    );
    assert!(out.contains(&format!("\nAux unit {slice} ")), "{out}");
    assert!(out.contains("MemorySwapMax"), "{out}");
    assert!(
        out.contains(&format!("create directory {root_arg}/")),
        "{out}"
    );
    assert!(out.contains("Policy: not checked"), "{out}");
    assert_eq!(loaded_units(&name), "", "a dry run loads no unit");
    assert!(!root.exists(), "a dry run creates no directory");

    let mut json_args = args.to_vec();
    json_args.insert(2, "-o");
    json_args.insert(3, "json");
    let doc: serde_json::Value = serde_json::from_str(&cli(&json_args).ok()).unwrap();
    assert_eq!(doc["kind"], "transient");
    let unit = doc["unit"].as_str().unwrap();
    assert!(unit.ends_with(".service") && unit.contains(&name), "{doc}");
    let restart = doc["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Restart")
        .unwrap();
    assert_eq!(restart["signature"], "s");
    assert_eq!(restart["value"], "no");
    assert!(doc["aux"][0]["unit"].as_str().unwrap().ends_with(".slice"));
    assert_eq!(doc["policy"]["verdict"], "not checked");
    assert_eq!(loaded_units(&name), "");
    assert!(!root.exists());
}

#[tokio::test]
async fn under_a_plugin_config_a_refusal_is_the_plugins_own_error() {
    let dir = tempfile::tempdir().unwrap();
    // The operator's config: everything default, so neither root nor extra capabilities.
    let config = dir.path().join("plugin.hcl");
    std::fs::write(
        &config,
        "plugin \"nomad-systemd\" {\n  config {\n    default_user = \"nobody\"\n  }\n}\n",
    )
    .unwrap();
    let config_arg = config.display().to_string();

    // What the real plugin answers Nomad for a task asking for root under that config.
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("dryroot");
    let mut task = alloc.task_config(shell_config("echo END", &[]));
    task.user = "root".into();
    let plugin_error = conn.start(task).await.expect_err("root is refused");
    let message = plugin_error.message().to_string();
    assert!(message.contains("allow_root"), "{message}");

    let name = format!("dry-{}", tag());
    let out = cli(&[
        "run",
        "--dry-run",
        "--plugin-config",
        &config_arg,
        "--name",
        &name,
        "--user",
        "root",
        "--",
        "/bin/true",
    ]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    assert!(
        out.stderr().contains(&message),
        "the plugin said {message:?}, the dry run {:?}",
        out.stderr()
    );
    assert_eq!(loaded_units(&name), "");

    // A capability the operator did not allow, asked for in a task file.
    let file = dir.path().join("task.hcl");
    std::fs::write(
        &file,
        "task \"capped\" {\n  driver = \"systemd\"\n  config {\n    command = \"/bin/true\"\n    \
         cap_add = [\"sys_admin\"]\n  }\n}\n",
    )
    .unwrap();
    let mut task = alloc.task_config(shell_config(
        "echo END",
        &[("cap_add", Value::Array(vec!["sys_admin".into()]))],
    ));
    task.user = String::new();
    let plugin_error = conn.start(task).await.expect_err("sys_admin is refused");
    let out = cli(&[
        "run",
        "--dry-run",
        "-o",
        "json",
        "--plugin-config",
        &config_arg,
        "-f",
        &file.display().to_string(),
    ]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    assert!(
        out.stderr().contains(plugin_error.message()),
        "the plugin said {:?}, the dry run {:?}",
        plugin_error.message(),
        out.stderr()
    );
    let doc: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(doc["policy"]["verdict"], "refused");
    assert_eq!(doc["policy"]["error"], plugin_error.message());

    // The same task as root passes once the operator allows it, and runs as the plugin
    // would run it.
    let allowing = dir.path().join("allow.json");
    std::fs::write(&allowing, r#"{"allow_root": true}"#).unwrap();
    let out = cli(&[
        "run",
        "--dry-run",
        "--plugin-config",
        &allowing.display().to_string(),
        "--name",
        &name,
        "--user",
        "root",
        "--",
        "/bin/true",
    ])
    .ok();
    assert!(out.contains("Policy: allowed"), "{out}");
    assert_eq!(row(&out, "User"), r#"s        "root""#, "{out}");
    assert_eq!(loaded_units(&name), "");
}

#[test]
fn a_dry_run_of_an_installed_unit_prints_its_dropin_and_writes_none() {
    let unit = format!("dry-{}.service", tag());
    units::install(&[(&unit, "[Service]\nExecStart=/bin/sleep 300\n")]);
    let out = cli(&[
        "run",
        "--dry-run",
        "--unit",
        &unit,
        "--env",
        "NOMAD_PORT_http=8080",
    ])
    .ok();
    let dropin = units::dropin_file(&unit);
    assert!(
        out.contains(&format!("started with the drop-in {}", dropin.display())),
        "{out}"
    );
    assert!(out.contains("Restart=no"), "the drop-in's text: {out}");
    assert!(out.contains("NOMAD_PORT_http=8080"), "{out}");
    assert!(!dropin.exists(), "a dry run writes no drop-in");
    assert!(!Path::new(&units::dropin_dir(&unit)).exists());
    assert_eq!(units::active_state(&unit), "inactive");
}
