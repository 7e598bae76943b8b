//! Which of a task's environment variables an installed unit gets.
//!
//! An installed unit is the operator's program, often running as root; the job's environment
//! is the job author's. So the unit gets Nomad's `NOMAD_*` variables (ports, addresses, ids:
//! what a unit run as a task needs to know) and the names the operator allows
//! (`unit_env_allow` in the plugin's config, none by default), and **never** a variable that
//! changes what code a program loads or runs ([`NEVER_PASSED`]), whatever a pattern says:
//! `LD_PRELOAD` or `BASH_ENV` pointing into the task's `local/` would run the job's code as
//! the unit's user.
//!
//! The values of `NOMAD_*` variables are still the job's input (a job can set `env` entries
//! with that prefix, and meta values end up there): a unit must treat them as such.

use std::collections::BTreeMap;

use super::error::{Error, Result};
use super::pattern::Pattern;

/// Names no pattern can pass to an installed unit, as globs, each with the reason.
pub const NEVER_PASSED: &[(&str, &str)] = &[
    // The dynamic loader and glibc: each makes a program load or read attacker-chosen files.
    (
        "LD_*",
        "the dynamic loader loads libraries and audit modules it names",
    ),
    (
        "GCONV_PATH",
        "glibc loads character-conversion modules from it",
    ),
    ("GETCONF_DIR", "glibc's getconf runs programs from it"),
    (
        "GLIBC_TUNABLES",
        "tunes glibc's allocator (the 'Looney Tunables' privilege escalation)",
    ),
    ("MALLOC_*", "tunes or traces glibc's allocator into a file"),
    ("HOSTALIASES", "glibc's resolver reads host aliases from it"),
    ("LOCALDOMAIN", "changes how the resolver completes names"),
    ("RES_OPTIONS", "changes how the resolver completes names"),
    (
        "RESOLV_HOST_CONF",
        "glibc's resolver reads its configuration from it",
    ),
    ("LOCPATH", "glibc loads locale data from it"),
    ("NLSPATH", "message catalogs are read from it"),
    ("NIS_PATH", "glibc's NIS lookups follow it"),
    ("TZDIR", "time zone files are read from it"),
    ("TMPDIR", "temporary files go where it points"),
    // Shells: startup files and settings that run code.
    ("BASH_ENV", "bash runs the file it names before any script"),
    ("ENV", "sh, dash and ksh run the file it names"),
    ("BASH_FUNC_*", "bash imports shell functions from it"),
    (
        "SHELLOPTS",
        "sets shell options (xtrace runs PS4's commands)",
    ),
    ("BASHOPTS", "sets bash options"),
    (
        "PS4",
        "the shell runs its command substitutions when tracing",
    ),
    ("PROMPT_COMMAND", "bash runs it"),
    ("IFS", "changes how shell scripts split words"),
    ("CDPATH", "changes where a script's cd goes"),
    ("GLOBIGNORE", "changes what a script's globs match"),
    ("ZDOTDIR", "zsh runs startup files from it"),
    ("PATH", "decides which program a bare command name runs"),
    (
        "HOME",
        "programs read their startup and configuration files from it",
    ),
    (
        "XDG_*",
        "programs read their configuration and data from it",
    ),
    // Interpreters and runtimes: module search paths and startup options.
    (
        "PYTHON*",
        "Python imports modules and runs startup files it names",
    ),
    ("PERL5*", "Perl loads modules and options it names"),
    ("PERLLIB", "Perl loads modules from it"),
    ("PERL_*", "Perl's module and debugger settings"),
    ("RUBY*", "Ruby loads libraries and options it names"),
    ("GEM_*", "Ruby loads gems from it"),
    ("NODE_*", "Node.js loads modules and options it names"),
    ("JAVA_TOOL_OPTIONS", "the JVM loads agents it names"),
    ("_JAVA_OPTIONS", "the JVM loads agents it names"),
    ("JDK_JAVA_OPTIONS", "the JVM loads agents it names"),
    ("CLASSPATH", "the JVM loads classes from it"),
    ("LUA_*", "Lua loads modules and runs code it names"),
    (
        "PHPRC",
        "PHP reads its configuration (auto_prepend_file) from it",
    ),
    ("PHP_INI_SCAN_DIR", "PHP reads configuration from it"),
    ("TCLLIBPATH", "Tcl loads packages from it"),
    (
        "GIT_*",
        "git runs programs it names (GIT_SSH_COMMAND, GIT_EXEC_PATH)",
    ),
    (
        "OPENSSL_*",
        "OpenSSL loads engines, providers and configuration it names",
    ),
    ("SSL_CERT_*", "replaces the certificates TLS trusts"),
    // What systemd sets for the unit: a job's value would lie to the service about itself.
    ("NOTIFY_SOCKET", "systemd sets it for the unit"),
    ("LISTEN_*", "systemd sets it for socket activation"),
    ("MAINPID", "systemd sets it for the unit"),
    ("MANAGERPID", "systemd sets it for the unit"),
    ("INVOCATION_ID", "systemd sets it for the unit"),
    ("JOURNAL_STREAM", "systemd sets it for the unit"),
    ("WATCHDOG_*", "systemd sets it for the unit"),
    (
        "CREDENTIALS_DIRECTORY",
        "systemd sets it; a job's value would hand the unit forged credentials",
    ),
    ("RUNTIME_DIRECTORY", "systemd sets it for the unit"),
    ("STATE_DIRECTORY", "systemd sets it for the unit"),
    ("CACHE_DIRECTORY", "systemd sets it for the unit"),
    ("LOGS_DIRECTORY", "systemd sets it for the unit"),
    ("CONFIGURATION_DIRECTORY", "systemd sets it for the unit"),
    ("USER", "systemd sets it from the unit's user"),
    ("LOGNAME", "systemd sets it from the unit's user"),
    ("SHELL", "systemd sets it from the unit's user"),
];

/// Why `name` is never passed, or `None` when a pattern may pass it.
pub fn never_passed(name: &str) -> Option<&'static str> {
    NEVER_PASSED
        .iter()
        .find(|(glob, _)| match glob.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *glob,
        })
        .map(|(_, reason)| *reason)
}

/// The variables of `env` an installed unit gets under the operator's `allow` patterns (see
/// the module docs), and a warning naming those left out. Errors name `unit_env_allow` for a
/// pattern that does not parse.
pub fn filter(
    env: &BTreeMap<String, String>,
    allow: &[String],
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let allow = allow
        .iter()
        .map(|p| Pattern::parse(p).map_err(|e| Error::invalid("unit_env_allow", e)))
        .collect::<Result<Vec<_>>>()?;
    let mut kept = BTreeMap::new();
    let mut never = Vec::new();
    let mut not_allowed = Vec::new();
    for (name, value) in env {
        if never_passed(name).is_some() {
            never.push(name.as_str());
        } else if name.starts_with("NOMAD_") || allow.iter().any(|p| p.matches(name)) {
            kept.insert(name.clone(), value.clone());
        } else {
            not_allowed.push(name.as_str());
        }
    }
    let mut warnings = Vec::new();
    if !never.is_empty() {
        warnings.push(format!(
            "environment variables {} not passed to the installed unit: they change what code \
             a program loads or runs, so an installed unit never gets them",
            never.join(", ")
        ));
    }
    if !not_allowed.is_empty() {
        warnings.push(format!(
            "environment variables {} not passed to the installed unit: it gets NOMAD_* and \
             the names in the plugin's unit_env_allow",
            not_allowed.join(", ")
        ));
    }
    Ok((kept, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(names: &[&str]) -> BTreeMap<String, String> {
        names.iter().map(|n| (n.to_string(), "v".into())).collect()
    }

    #[test]
    fn nomad_variables_and_allowed_names_pass() {
        let (kept, warnings) = filter(
            &env(&["NOMAD_PORT_http", "APP_MODE", "OTHER"]),
            &["APP_*".into()],
        )
        .unwrap();
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            ["APP_MODE", "NOMAD_PORT_http"]
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("OTHER") && warnings[0].contains("unit_env_allow"));
    }

    #[test]
    fn loader_and_shell_variables_never_pass_whatever_the_patterns_say() {
        let bad = [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "BASH_ENV",
            "ENV",
            "PYTHONPATH",
            "PERL5OPT",
            "GLIBC_TUNABLES",
            "PATH",
            "NODE_OPTIONS",
            "CREDENTIALS_DIRECTORY",
            "STATE_DIRECTORY",
        ];
        let (kept, warnings) = filter(&env(&bad), &["*".into(), "re:.*".into()]).unwrap();
        assert!(kept.is_empty(), "{kept:?}");
        assert!(warnings[0].contains("LD_PRELOAD") && warnings[0].contains("never"));
        assert!(never_passed("LANG").is_none());
        assert!(never_passed("NOMAD_TASK_DIR").is_none());
    }

    #[test]
    fn a_bad_pattern_names_the_setting() {
        let e = filter(&env(&["A"]), &["re:(".into()]).unwrap_err();
        assert!(e.to_string().contains("unit_env_allow"), "{e}");
    }
}
