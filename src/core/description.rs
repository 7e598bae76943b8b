//! The `Description` of a task unit, which carries the task's identity in a fixed form:
//! `Nomad task <name> of job <job> (alloc <alloc id>)`, with `, run by hand` before the
//! closing parenthesis when the operator's CLI started it (`nomad-systemd run`) rather than
//! Nomad's plugin ([`Origin`]).
//!
//! systemd lists every unit's description in one call (`ListUnitsByPatterns`), so this is
//! what lets `ps` list hundreds of tasks without asking about each. The journal fields
//! (`NOMAD_TASK_NAME`, …) remain the exact record; a task name that itself contains
//! " of job " reads back split at the first one.
//!
//! The origin is read only from the end of the description, after the last ` (alloc `: the
//! task and job names (the job author's) come before it and cannot forge it, and the alloc id
//! comes from Nomad. A description without the mark (every unit the plugin starts, and units
//! of earlier versions) reads as Nomad's, so a task nobody marked is treated as the one to
//! be careful with.

use serde::{Deserialize, Serialize};

const PREFIX: &str = "Nomad task ";
const JOB: &str = " of job ";
const ALLOC: &str = " (alloc ";
const BY_HAND: &str = ", run by hand";

/// Who started a task: what `stop --all` uses to leave Nomad's allocations alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Nomad's client, through the task-driver plugin; also any unit not marked otherwise.
    #[default]
    Nomad,
    /// The operator, with `nomad-systemd run`.
    Cli,
}

/// The identity a description carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub task: String,
    pub job: String,
    pub alloc_id: String,
    pub origin: Origin,
}

pub fn describe(task: &str, job: &str, alloc_id: &str, origin: Origin) -> String {
    let mark = match origin {
        Origin::Nomad => "",
        Origin::Cli => BY_HAND,
    };
    format!("{PREFIX}{task}{JOB}{job}{ALLOC}{alloc_id}{mark})")
}

/// The identity in a task unit's description; `None` for any other description.
pub fn parse(description: &str) -> Option<Identity> {
    let rest = description.strip_prefix(PREFIX)?.strip_suffix(')')?;
    let (named, alloc) = rest.rsplit_once(ALLOC)?;
    let (alloc_id, origin) = match alloc.strip_suffix(BY_HAND) {
        Some(id) => (id, Origin::Cli),
        None => (alloc, Origin::Nomad),
    };
    let (task, job) = named.split_once(JOB)?;
    Some(Identity {
        task: task.to_string(),
        job: job.to_string(),
        alloc_id: alloc_id.to_string(),
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_reads_back() {
        for origin in [Origin::Nomad, Origin::Cli] {
            let text = describe("web (blue)", "shop", "1a2b3c4d-0000", origin);
            assert_eq!(
                parse(&text),
                Some(Identity {
                    task: "web (blue)".into(),
                    job: "shop".into(),
                    alloc_id: "1a2b3c4d-0000".into(),
                    origin,
                })
            );
        }
        assert_eq!(
            describe("web", "shop", "1a2b", Origin::Nomad),
            "Nomad task web of job shop (alloc 1a2b)",
            "the plugin's units read as before"
        );
    }

    #[test]
    fn a_job_cannot_make_its_task_read_as_started_by_hand() {
        let forged = describe(
            "web (alloc x, run by hand)",
            "shop (alloc y, run by hand)",
            "1a2b",
            Origin::Nomad,
        );
        let identity = parse(&forged).unwrap();
        assert_eq!(identity.origin, Origin::Nomad);
        assert_eq!(identity.alloc_id, "1a2b");
    }

    #[test]
    fn other_descriptions_are_not_tasks() {
        assert_eq!(parse("exec in nomad-a-web-1.service: sh"), None);
        assert_eq!(parse("Nomad task web"), None);
        assert_eq!(parse("/bin/sleep 600"), None);
    }
}
