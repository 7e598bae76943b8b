//! Which tasks `stop --all` takes: every task seen ([`super::listing`]) that passes the
//! operator's filters, and, unless asked for, none that Nomad's plugin started.
//!
//! Each filter given must match (they combine with "and"): `--job` the job's name, `--task`
//! the task's name, both exactly; `--alloc` a prefix of the allocation id of at least
//! [`resolve::MIN_ALLOC_PREFIX`] characters, as task names take it. A task Nomad started
//! ([`Origin::Nomad`], which is also what an unmarked unit reads as) is left out unless
//! `include_nomad`: stopping it behind Nomad's back makes Nomad see the allocation fail and
//! reschedule it.

use super::resolve;
use crate::core::description::Origin;
use crate::core::{Error, TaskSummary};

/// The operator's filters for `stop --all`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub job: Option<String>,
    pub alloc: Option<String>,
    pub task: Option<String>,
    pub include_nomad: bool,
}

/// What a selection took and what it left out only because Nomad started it.
#[derive(Debug, Default)]
pub struct Selected<'a> {
    pub taken: Vec<&'a TaskSummary>,
    /// Tasks every filter matched but that Nomad started; empty with `include_nomad`.
    pub nomads_left: Vec<&'a TaskSummary>,
}

impl Selection {
    /// Checks the filters themselves: an allocation id prefix shorter than Nomad accepts is
    /// refused rather than matching nothing (or everything).
    pub fn check(&self) -> Result<(), Error> {
        if let Some(alloc) = &self.alloc
            && alloc.chars().count() < resolve::MIN_ALLOC_PREFIX
        {
            return Err(Error::argument(
                format!("--alloc '{alloc}'"),
                format!(
                    "an allocation id prefix needs at least {} characters, as in Nomad",
                    resolve::MIN_ALLOC_PREFIX
                ),
            ));
        }
        Ok(())
    }

    /// Whether every filter given matches `task`, whoever started it.
    pub fn filters_match(&self, task: &TaskSummary) -> bool {
        self.job.as_ref().is_none_or(|job| *job == task.job)
            && self.task.as_ref().is_none_or(|name| *name == task.task)
            && self
                .alloc
                .as_ref()
                .is_none_or(|prefix| resolve::alloc_prefix(prefix, &task.alloc_id))
    }

    /// The tasks of `tasks` this selection takes, in their order.
    pub fn select<'a>(&self, tasks: &'a [TaskSummary]) -> Selected<'a> {
        let mut selected = Selected::default();
        for task in tasks.iter().filter(|t| self.filters_match(t)) {
            if task.origin == Origin::Nomad && !self.include_nomad {
                selected.nomads_left.push(task);
            } else {
                selected.taken.push(task);
            }
        }
        selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::fixtures::task;

    fn tasks() -> Vec<TaskSummary> {
        vec![
            task("6b78bd0c-1111", "shop", "web", Origin::Cli),
            task("6b78ee01-aaaa", "shop", "db", Origin::Cli),
            task("9f00aa11-0000", "blog", "web", Origin::Cli),
            task("c0ffee00-0000", "shop", "web", Origin::Nomad),
        ]
    }

    /// What `selection` takes and leaves, as `job/task@alloc-prefix`.
    fn names(selection: &Selection) -> (Vec<String>, Vec<String>) {
        let tasks = tasks();
        let selected = selection.select(&tasks);
        let show = |ts: Vec<&TaskSummary>| {
            ts.into_iter()
                .map(|t| format!("{}/{}@{}", t.job, t.task, &t.alloc_id[..4]))
                .collect()
        };
        (show(selected.taken), show(selected.nomads_left))
    }

    #[test]
    fn without_filters_every_task_but_nomads_is_taken() {
        let (taken, left) = names(&Selection::default());
        assert_eq!(taken, ["shop/web@6b78", "shop/db@6b78", "blog/web@9f00"]);
        assert_eq!(left, ["shop/web@c0ff"]);
    }

    #[test]
    fn include_nomad_takes_nomads_tasks_too() {
        let all = Selection {
            include_nomad: true,
            ..Selection::default()
        };
        let (taken, left) = names(&all);
        assert_eq!(taken.len(), 4);
        assert!(left.is_empty());
    }

    #[test]
    fn filters_combine_and_match_exactly() {
        let by_job = Selection {
            job: Some("shop".into()),
            ..Selection::default()
        };
        assert_eq!(names(&by_job).0, ["shop/web@6b78", "shop/db@6b78"]);
        let by_task = Selection {
            task: Some("web".into()),
            ..Selection::default()
        };
        assert_eq!(names(&by_task).0, ["shop/web@6b78", "blog/web@9f00"]);
        let both = Selection {
            job: Some("shop".into()),
            task: Some("web".into()),
            include_nomad: true,
            ..Selection::default()
        };
        assert_eq!(names(&both).0, ["shop/web@6b78", "shop/web@c0ff"]);
        let prefix_of_job = Selection {
            job: Some("sho".into()),
            ..Selection::default()
        };
        assert!(names(&prefix_of_job).0.is_empty(), "job names are exact");
    }

    #[test]
    fn alloc_filters_by_id_prefix_of_two_characters_or_more() {
        let by_alloc = |prefix: &str| Selection {
            alloc: Some(prefix.into()),
            ..Selection::default()
        };
        assert_eq!(
            names(&by_alloc("6b78")).0,
            ["shop/web@6b78", "shop/db@6b78"]
        );
        assert_eq!(names(&by_alloc("6B78BD")).0, ["shop/web@6b78"]);
        let (taken, left) = names(&by_alloc("c0ff"));
        assert!(taken.is_empty());
        assert_eq!(left, ["shop/web@c0ff"], "reported as left, not silently");
        assert!(by_alloc("6b").check().is_ok());
        let e = by_alloc("6").check().unwrap_err().to_string();
        assert!(e.contains("--alloc") && e.contains("at least 2"), "{e}");
    }
}
