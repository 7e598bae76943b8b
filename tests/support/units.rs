//! Installed units for tests: unit files written into the sandboxed systemd's runtime unit
//! directory, and `systemctl` to look at them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// systemd's runtime unit directory, where tests install their units.
pub const UNIT_DIR: &str = "/run/systemd/system";

/// The file name of the drop-in the plugin writes for an installed unit it starts.
pub const DROPIN: &str = "zz-nomad-systemd.conf";

/// Writes unit files (name, text) into [`UNIT_DIR`] and makes systemd read them.
pub fn install(units: &[(&str, &str)]) {
    for (name, text) in units {
        std::fs::write(Path::new(UNIT_DIR).join(name), text).unwrap();
    }
    systemctl(&["daemon-reload"]);
}

/// Runs `systemctl args` and returns its stdout, trimmed; whether it succeeded is not checked.
pub fn systemctl(args: &[&str]) -> String {
    let out = Command::new("systemctl").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The unit's `ActiveState` as systemd reports it (`active`, `inactive`, ...).
pub fn active_state(unit: &str) -> String {
    systemctl(&["show", "-P", "ActiveState", unit])
}

/// The drop-in directory of `unit` under [`UNIT_DIR`]; the plugin's drop-in there is
/// [`DROPIN`].
pub fn dropin_dir(unit: &str) -> PathBuf {
    Path::new(UNIT_DIR).join(format!("{unit}.d"))
}

/// The plugin's drop-in for `unit`: [`DROPIN`] in its [`dropin_dir`].
pub fn dropin_file(unit: &str) -> PathBuf {
    dropin_dir(unit).join(DROPIN)
}
