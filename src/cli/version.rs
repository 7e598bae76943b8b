//! What `--version` prints: the release, the commit it was built from and what it was built
//! for. `-V` prints the first line only. The build record comes from build.rs.

use std::sync::OnceLock;

use crate::core::host_check::MIN_SYSTEMD;

/// The commit the binary was built from (`abc1234`, `abc1234-dirty`), or `unknown` when it
/// was not built from a git checkout of this crate.
pub const COMMIT: &str = env!("NOMAD_SYSTEMD_COMMIT");
/// The target triple the binary was built for.
pub const TARGET: &str = env!("NOMAD_SYSTEMD_TARGET");
/// The cargo features enabled in the build, comma-separated, or `none`.
pub const FEATURES: &str = env!("NOMAD_SYSTEMD_FEATURES");

/// `--version`'s text after the program's name: the version, then one `name: value` line for
/// the commit, the target, the oldest systemd the build supports and its cargo features.
pub fn long_version() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{}\ncommit:   {COMMIT}\ntarget:   {TARGET}\nsystemd:  {MIN_SYSTEMD} or later\n\
             features: {FEATURES}",
            env!("CARGO_PKG_VERSION")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_version_commit_target_systemd_and_features() {
        let text = long_version();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], env!("CARGO_PKG_VERSION"));
        assert_eq!(lines[1], format!("commit:   {COMMIT}"));
        assert!(!COMMIT.is_empty());
        assert_eq!(lines[2], format!("target:   {TARGET}"));
        assert!(TARGET.contains("linux"), "{TARGET}");
        assert_eq!(lines[3], format!("systemd:  {MIN_SYSTEMD} or later"));
        assert_eq!(lines[4], format!("features: {FEATURES}"));
    }
}
