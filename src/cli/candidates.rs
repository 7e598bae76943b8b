//! The values shell completion offers that only the running system knows: the tasks (as
//! [`super::resolve`] accepts their names), signal names, users and groups. Attached to the
//! arguments that take them; asked by [`super::completion`]'s scripts on every TAB.
//!
//! A completer never fails loudly: without systemd, a bus, or `getent`, it offers nothing,
//! and the shell falls back to its own completion.
//!
//! Task and job names are a hostile job's choice, and whatever is offered lands on the
//! operator's command line: a name is offered only when a shell takes it literally
//! ([`shell_literal`]), and a description never carries a control character (which could
//! end the line a shell reads candidates from and add one of its own).

use std::ffi::OsStr;
use std::time::Duration;

use clap::FromArgMatches;
use clap_complete::CompletionCandidate;

use super::{GlobalArgs, format, listing, resolve};
use crate::core::TaskSummary;

/// How long a TAB may wait for systemd before offering no task.
const BUS_PATIENCE: Duration = Duration::from_secs(2);

/// The tasks `ps --all` lists on the bus and slice the words typed so far select (`--bus`,
/// `--slice`, or their variables), each offered as its unit name, `job/task`, short
/// allocation id (the full one once more than that is typed) and task name, those that
/// start with `current`.
pub fn tasks(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    task_candidates(current, &listed_tasks().unwrap_or_default())
}

/// [`tasks`] among `tasks`: each value once, described by the task it names. An allocation
/// id is matched without regard to case, as [`resolve`] does.
pub fn task_candidates(current: &str, tasks: &[TaskSummary]) -> Vec<CompletionCandidate> {
    let short_len = format::short_id("0123456789").len();
    let mut seen = std::collections::BTreeSet::new();
    let mut offered = Vec::new();
    for task in tasks {
        let job_task = resolve::job_task(task);
        let about: String = format!(
            "{job_task}, alloc {}, {}",
            format::short_id(&task.alloc_id),
            format::state(task.state)
        )
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
        let alloc = if current.len() > short_len {
            task.alloc_id.clone()
        } else {
            format::short_id(&task.alloc_id)
        };
        let forms = [
            (task.unit.as_str().to_string(), false),
            (job_task.clone(), false),
            (alloc, true),
            (task.task.clone(), false),
        ];
        for (value, any_case) in forms {
            let fits = if any_case {
                resolve::alloc_prefix(current, &value) || current.is_empty()
            } else {
                value.starts_with(current)
            };
            if fits && shell_literal(&value) && seen.insert(value.clone()) {
                offered.push(CompletionCandidate::new(value).help(Some(about.clone().into())));
            }
        }
    }
    offered
}

/// For `stop --all`'s filters: the job names of the tasks listed (as [`tasks`] lists them).
pub fn jobs() -> Vec<CompletionCandidate> {
    field_candidates(|t| t.job.clone())
}

/// For `stop --all --alloc`: the short allocation ids of the tasks listed.
pub fn allocs() -> Vec<CompletionCandidate> {
    field_candidates(|t| format::short_id(&t.alloc_id))
}

/// For `stop --all --task`: the task names of the tasks listed.
pub fn task_names() -> Vec<CompletionCandidate> {
    field_candidates(|t| t.task.clone())
}

/// One field of every task listed, each value once and only when [`shell_literal`].
fn field_candidates(field: fn(&TaskSummary) -> String) -> Vec<CompletionCandidate> {
    let values: std::collections::BTreeSet<String> = listed_tasks()
        .unwrap_or_default()
        .iter()
        .map(field)
        .filter(|v| shell_literal(v))
        .collect();
    values.into_iter().map(CompletionCandidate::new).collect()
}

/// Whether `value` is non-empty and made only of characters no shell gives a meaning to
/// (letters, digits and `_.-+@:,/=%`), so that offering it cannot put anything but itself on
/// the command line.
fn shell_literal(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-+@:,/=%".contains(c))
}

/// Signal names for an option taking SIG: the full names (SIGHUP) when nothing is typed,
/// otherwise each signal in the first of its spellings `current` starts (SIGHUP, HUP,
/// sighup, hup), as [`crate::core::Signal`] parses them all.
pub fn signals(current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_str().unwrap_or_default();
    nix::sys::signal::Signal::iterator()
        .filter_map(|signal| {
            let full = signal.as_str();
            let short = full.strip_prefix("SIG").unwrap_or(full);
            let spellings = [
                full.to_string(),
                short.to_string(),
                full.to_ascii_lowercase(),
                short.to_ascii_lowercase(),
            ];
            spellings
                .into_iter()
                .find(|s| s.starts_with(current))
                .map(CompletionCandidate::new)
        })
        .collect()
}

/// The users the name service knows (`getent passwd`, as fish completes users).
pub fn users() -> Vec<CompletionCandidate> {
    names_from_getent("passwd")
}

/// The groups the name service knows (`getent group`).
pub fn groups() -> Vec<CompletionCandidate> {
    names_from_getent("group")
}

fn names_from_getent(database: &str) -> Vec<CompletionCandidate> {
    let Ok(out) = std::process::Command::new("getent")
        .arg(database)
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split(':').next())
        .filter(|name| !name.is_empty())
        .map(CompletionCandidate::new)
        .collect()
}

/// The tasks listed where the command line being completed points; `None` when systemd
/// cannot be asked (in time).
fn listed_tasks() -> Option<Vec<TaskSummary>> {
    let global = typed_globals()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let listing = async {
            let engine = global.engine().await.ok()?;
            listing::tasks(&engine, global.scope()).await.ok()
        };
        tokio::time::timeout(BUS_PATIENCE, listing).await.ok()?
    })
}

/// `--bus` and `--slice` as the words being completed give them (or their variables do):
/// the words follow the `--` the completion scripts pass.
fn typed_globals() -> Option<GlobalArgs> {
    let words: Vec<std::ffi::OsString> = std::env::args_os()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .collect();
    let matches = super::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()?;
    GlobalArgs::from_arg_matches(&matches).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::fixtures::by_hand as task;

    fn values(candidates: &[CompletionCandidate]) -> Vec<String> {
        candidates
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_task_is_offered_by_every_name_the_resolver_takes() {
        let tasks = [
            task("6b78bd0c-1111-2222-3333-444455556666", "shop", "web"),
            task("6b78bd0c-1111-2222-3333-444455556666", "shop", "db"),
        ];
        let all = values(&task_candidates("", &tasks));
        assert!(all.contains(&tasks[0].unit.as_str().to_string()), "{all:?}");
        assert!(all.contains(&"shop/web".to_string()), "{all:?}");
        assert!(all.contains(&"web".to_string()), "{all:?}");
        assert_eq!(
            all.iter().filter(|v| *v == "6b78bd0c").count(),
            1,
            "{all:?}"
        );
        assert_eq!(values(&task_candidates("shop/w", &tasks)), ["shop/web"]);
        assert_eq!(values(&task_candidates("6B78", &tasks)), ["6b78bd0c"]);
        assert_eq!(
            values(&task_candidates("6b78bd0c-1", &tasks)),
            ["6b78bd0c-1111-2222-3333-444455556666"]
        );
        assert!(task_candidates("nosuch", &tasks).is_empty());
    }

    #[test]
    fn hostile_names_are_not_offered_to_the_shell() {
        let tasks = [
            task("6b78bd0c-1111-2222-3333-444455556666", "x$(reboot)", "a\nb"),
            task("9f00aa11-1111-2222-3333-444455556666", "shop", "w\u{b}eb"),
            task("9f00ee11-1111-2222-3333-444455556666", "sh op", "`id`"),
        ];
        let offered = task_candidates("", &tasks);
        let all = values(&offered);
        // Each task is still offered by its allocation id, which Nomad chose.
        for id in ["6b78bd0c", "9f00aa11", "9f00ee11"] {
            assert!(all.contains(&id.to_string()), "{all:?}");
        }
        // Unit names escape what they hold (`\x24`), which a shell would read.
        assert!(all.iter().all(|v| shell_literal(v)), "{all:?}");
        assert!(
            !all.iter()
                .any(|v| v.contains("reboot") || v.contains("id") || v.contains(' ')),
            "{all:?}"
        );
        for candidate in offered {
            let about = candidate.get_help().expect("described").to_string();
            assert!(!about.chars().any(char::is_control), "{about:?}");
        }
    }

    #[test]
    fn signals_are_offered_as_typed() {
        let all = values(&signals(OsStr::new("")));
        assert!(all.contains(&"SIGHUP".to_string()) && all.contains(&"SIGTERM".to_string()));
        assert_eq!(values(&signals(OsStr::new("SIGHU"))), ["SIGHUP"]);
        assert_eq!(values(&signals(OsStr::new("HU"))), ["HUP"]);
        assert_eq!(values(&signals(OsStr::new("hu"))), ["hup"]);
        assert!(values(&signals(OsStr::new("te"))).contains(&"term".to_string()));
    }
}
