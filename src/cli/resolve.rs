//! Naming a task on the command line: the one resolver every subcommand that takes a task
//! uses, so a task answers to the same names everywhere.
//!
//! A name is looked up among the task units `ps --all` lists ([`listing::tasks`]: on the
//! chosen bus, and in the chosen slice when one is given), never among other units on the
//! bus. It may be:
//! - the unit name, with or without `.service` (`nomad-6b78bd0c-web-….service`);
//! - a prefix of the allocation id, at least [`MIN_ALLOC_PREFIX`] characters, as
//!   `nomad alloc status` takes it (`6b78bd0c`, `6b78`);
//! - `job/task`, or `alloc-prefix/task` for one task of an allocation;
//! - the task name alone (`web`);
//! - a glob in systemctl's manner (`'nomad-6b78*'`, `'shop/*'`): `*`, `?` and `[…]`,
//!   matched against the unit name (with or without `.service`), or against `job/task` when
//!   the pattern holds a `/`.
//!
//! A full unit name that is listed names that unit alone. Otherwise every rule is tried and
//! the matches pooled, so a name that fits two tasks in different ways is ambiguous, not
//! silently taken as one of them. Ambiguity is an error listing the candidates; no match is
//! an error saying what was looked for.

use std::collections::BTreeSet;

use super::listing;
use super::terminal::printable;
use crate::core::{Engine, Error, TaskSummary, UnitName};

/// The shortest allocation-id prefix accepted: Nomad's CLI refuses a single character
/// ("Identifier must contain at least two characters").
pub const MIN_ALLOC_PREFIX: usize = 2;

/// The one task `name` designates among those seen in `slice` (see the module
/// documentation). Globs are accepted when they match exactly one task.
pub async fn one(engine: &Engine, slice: Option<&str>, name: &str) -> Result<UnitName, Error> {
    let tasks = listing::tasks(engine, slice).await?;
    let matched = matching(name, &tasks)?;
    match matched.as_slice() {
        [] => Err(not_found(engine, name).await),
        [task] => Ok(task.unit.clone()),
        several => Err(ambiguous(name, several)),
    }
}

/// What [`many`] found.
#[derive(Debug, Default)]
pub struct Many {
    /// The tasks, in the order their names were given, each once.
    pub tasks: Vec<TaskSummary>,
    /// A glob that matched several tasks, if any: the command acts on more than the operator
    /// named one by one, so it may want to ask first.
    pub widened_by: Option<String>,
}

/// The tasks `names` designate, in the order given and each once: a glob may match many
/// tasks, any other name exactly one. Every name is resolved before anything is returned,
/// so a bad name changes nothing.
pub async fn many(engine: &Engine, slice: Option<&str>, names: &[String]) -> Result<Many, Error> {
    let tasks = listing::tasks(engine, slice).await?;
    let mut seen = BTreeSet::new();
    let mut many = Many::default();
    for name in names {
        let matched = matching(name, &tasks)?;
        if matched.is_empty() {
            return Err(not_found(engine, name).await);
        }
        if matched.len() > 1 {
            if !is_glob(name) {
                return Err(ambiguous(name, &matched));
            }
            many.widened_by.get_or_insert_with(|| name.clone());
        }
        for task in matched {
            if seen.insert(task.unit.clone()) {
                many.tasks.push(task.clone());
            }
        }
    }
    Ok(many)
}

/// The tasks of `tasks` that `name` matches, by unit name; empty when none does. An
/// invalid glob is an error.
pub fn matching<'a>(name: &str, tasks: &'a [TaskSummary]) -> Result<Vec<&'a TaskSummary>, Error> {
    if name.is_empty() {
        return Err(Error::Unresolved(
            "an empty name names no task; give a unit name, an allocation id prefix, \
             job/task or a task name"
                .into(),
        ));
    }
    let mut matched: Vec<&TaskSummary> = if is_glob(name) {
        let pattern = glob::Pattern::new(name)
            .map_err(|e| Error::Unresolved(format!("'{name}' is not a valid glob pattern: {e}")))?;
        tasks
            .iter()
            .filter(|t| {
                if name.contains('/') {
                    pattern.matches(&job_task(t))
                } else {
                    pattern.matches(t.unit.as_str()) || pattern.matches(stem(&t.unit))
                }
            })
            .collect()
    } else {
        let exact: Vec<&TaskSummary> = tasks
            .iter()
            .filter(|t| t.unit.as_str() == name || stem(&t.unit) == name)
            .collect();
        if !exact.is_empty() {
            return Ok(exact);
        }
        tasks.iter().filter(|t| names_task(name, t)).collect()
    };
    matched.sort_by(|a, b| a.unit.cmp(&b.unit));
    matched.dedup_by(|a, b| a.unit == b.unit);
    Ok(matched)
}

/// Whether `name` holds glob characters, as systemctl decides whether to match units by
/// pattern.
pub fn is_glob(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// The non-glob rules other than the unit name.
fn names_task(name: &str, task: &TaskSummary) -> bool {
    if alloc_prefix(name, &task.alloc_id) || name == task.task || name == job_task(task) {
        return true;
    }
    name.split_once('/')
        .is_some_and(|(alloc, t)| t == task.task && alloc_prefix(alloc, &task.alloc_id))
}

/// Whether `prefix` is a prefix of `alloc_id` long enough to name it ([`MIN_ALLOC_PREFIX`]),
/// compared without regard to case.
pub fn alloc_prefix(prefix: &str, alloc_id: &str) -> bool {
    prefix.len() >= MIN_ALLOC_PREFIX
        && !alloc_id.is_empty()
        && alloc_id
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

pub fn job_task(task: &TaskSummary) -> String {
    format!("{}/{}", task.job, task.task)
}

fn stem(unit: &UnitName) -> &str {
    unit.as_str()
        .strip_suffix(".service")
        .unwrap_or(unit.as_str())
}

/// The error for a name nothing matched: a unit that is loaded but is not one of this
/// tool's tasks is said to be so (systemctl is the tool for it); anything else is
/// [`no_match`].
async fn not_found(engine: &Engine, name: &str) -> Error {
    if !is_glob(name)
        && let Ok(unit) = UnitName::parse(name)
        && engine.systemd().snapshot(&unit).await.is_ok()
    {
        return Error::Unresolved(format!(
            "{unit} is not a nomad-systemd task (`nomad-systemd ps --all` lists them), and \
             this command acts only on its own tasks; use systemctl for other units"
        ));
    }
    no_match(name)
}

fn no_match(name: &str) -> Error {
    let how = if is_glob(name) {
        if name.contains('/') {
            "matching job/task"
        } else {
            "whose unit name matches"
        }
    } else {
        "with that unit name, allocation id prefix, job/task or task name"
    };
    Error::Unresolved(format!(
        "no task {how}: '{name}'\n  hint: `nomad-systemd ps --all` lists the tasks"
    ))
}

fn ambiguous(name: &str, candidates: &[&TaskSummary]) -> Error {
    let mut message = format!(
        "'{name}' matches {} tasks; name one by its unit, allocation id or job/task:",
        candidates.len()
    );
    for line in task_lines(candidates, |_| "") {
        message.push('\n');
        message.push_str(&line);
    }
    Error::Unresolved(message)
}

/// Tasks one a line, as an error or a question lists them: unit, job/task, short allocation
/// id and state, in aligned columns, then `more` of the task. The job author's names are
/// shown [`printable`].
pub fn task_lines(
    tasks: &[&TaskSummary],
    more: impl Fn(&TaskSummary) -> &'static str,
) -> Vec<String> {
    let names: Vec<String> = tasks.iter().map(|t| printable(&job_task(t))).collect();
    let unit_width = tasks.iter().map(|t| t.unit.as_str().len()).max();
    let name_width = names.iter().map(|n| n.chars().count()).max();
    tasks
        .iter()
        .zip(&names)
        .map(|(t, name)| {
            let line = format!(
                "  {:uw$}  {:nw$}  alloc {}  {:8}  {}",
                t.unit.as_str(),
                name,
                printable(&super::format::short_id(&t.alloc_id)),
                super::format::state(t.state),
                more(t),
                uw = unit_width.unwrap_or(0),
                nw = name_width.unwrap_or(0),
            );
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::fixtures::by_hand as task;

    fn tasks() -> Vec<TaskSummary> {
        vec![
            task("6b78bd0c-1111-2222-3333-444455556666", "shop", "web"),
            task("6b78ee01-aaaa-bbbb-cccc-ddddeeeeffff", "shop", "db"),
            task("9f00aa11-0000-0000-0000-000000000000", "blog", "web"),
            task("9f00aa11-0000-0000-0000-000000000000", "blog", "sidecar"),
        ]
    }

    /// The tasks `name` matches, as `job/task`.
    fn names(name: &str) -> Vec<String> {
        let tasks = tasks();
        let mut found: Vec<String> = matching(name, &tasks)
            .unwrap()
            .into_iter()
            .map(job_task)
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_unit_name_with_or_without_its_suffix_names_its_task() {
        let tasks = tasks();
        let unit = tasks[2].unit.as_str();
        assert_eq!(names(unit), ["blog/web"]);
        assert_eq!(names(unit.strip_suffix(".service").unwrap()), ["blog/web"]);
    }

    #[test]
    fn an_alloc_id_prefix_of_two_characters_or_more_names_its_tasks() {
        assert_eq!(names("6b78bd0c"), ["shop/web"]);
        assert_eq!(names("6B78BD"), ["shop/web"]);
        assert_eq!(names("6b78bd0c-1111-2222-3333-444455556666"), ["shop/web"]);
        assert_eq!(names("6b78"), ["shop/db", "shop/web"]);
        assert_eq!(names("9f00"), ["blog/sidecar", "blog/web"]);
        assert!(
            names("6").is_empty(),
            "one character is too short, as in Nomad"
        );
    }

    #[test]
    fn job_slash_task_and_alloc_slash_task_name_one_task() {
        assert_eq!(names("shop/web"), ["shop/web"]);
        assert_eq!(names("blog/web"), ["blog/web"]);
        assert_eq!(names("9f00/sidecar"), ["blog/sidecar"]);
        assert!(names("shop/sidecar").is_empty());
    }

    #[test]
    fn a_task_name_alone_names_every_task_of_that_name() {
        assert_eq!(names("db"), ["shop/db"]);
        assert_eq!(names("web"), ["blog/web", "shop/web"]);
        assert!(names("we").is_empty(), "task names are not prefixes");
    }

    #[test]
    fn globs_match_unit_names_or_job_slash_task() {
        assert_eq!(names("nomad-6b78*"), ["shop/db", "shop/web"]);
        assert_eq!(names("nomad-6b78bd0c-*.service"), ["shop/web"]);
        assert_eq!(names("nomad-*-web-0a1b2c3d"), ["blog/web", "shop/web"]);
        assert_eq!(names("shop/*"), ["shop/db", "shop/web"]);
        assert_eq!(names("*/w?b"), ["blog/web", "shop/web"]);
        assert_eq!(names("nomad-9f00aa11-[sw]*"), ["blog/sidecar", "blog/web"]);
        assert!(names("other-*").is_empty());
        let tasks = tasks();
        assert!(matches!(
            matching("nomad-[", &tasks),
            Err(Error::Unresolved(m)) if m.contains("not a valid glob")
        ));
    }

    #[test]
    fn a_name_fitting_two_rules_is_ambiguous_not_guessed() {
        let mut tasks = tasks();
        // A task named like another task's allocation id prefix.
        tasks.push(task(
            "cafe0000-0000-0000-0000-000000000000",
            "c",
            "6b78bd0c",
        ));
        let found = matching("6b78bd0c", &tasks).unwrap();
        assert_eq!(found.len(), 2);
        let message = ambiguous("6b78bd0c", &found).to_string();
        assert!(message.contains("matches 2 tasks"), "{message}");
        assert!(message.contains("shop/web") && message.contains("c/6b78bd0c"));
        assert!(message.contains("alloc 6b78bd0c") && message.contains("alloc cafe0000"));
        assert!(message.contains(tasks[0].unit.as_str()), "{message}");
    }

    #[test]
    fn no_match_says_what_was_looked_for_and_where_to_look() {
        let message = no_match("nosuch").to_string();
        assert!(message.contains("'nosuch'"), "{message}");
        assert!(message.contains("allocation id prefix, job/task or task name"));
        assert!(message.contains("nomad-systemd ps --all"), "{message}");
        assert!(matching("", &tasks()).is_err());
    }
}
