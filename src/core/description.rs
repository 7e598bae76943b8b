//! The `Description` of a task unit, which carries the task's identity in a fixed form:
//! `Nomad task <name> of job <job> (alloc <alloc id>)`.
//!
//! systemd lists every unit's description in one call (`ListUnitsByPatterns`), so this is
//! what lets `ps` list hundreds of tasks without asking about each. The journal fields
//! (`NOMAD_TASK_NAME`, …) remain the exact record; a task name that itself contains
//! " of job " reads back split at the first one.

const PREFIX: &str = "Nomad task ";
const JOB: &str = " of job ";
const ALLOC: &str = " (alloc ";

/// The identity a description carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub task: String,
    pub job: String,
    pub alloc_id: String,
}

pub fn describe(task: &str, job: &str, alloc_id: &str) -> String {
    format!("{PREFIX}{task}{JOB}{job}{ALLOC}{alloc_id})")
}

/// The identity in a task unit's description; `None` for any other description.
pub fn parse(description: &str) -> Option<Identity> {
    let rest = description.strip_prefix(PREFIX)?.strip_suffix(')')?;
    let (named, alloc_id) = rest.rsplit_once(ALLOC)?;
    let (task, job) = named.split_once(JOB)?;
    Some(Identity {
        task: task.to_string(),
        job: job.to_string(),
        alloc_id: alloc_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_reads_back() {
        let text = describe("web (blue)", "shop", "1a2b3c4d-0000");
        assert_eq!(
            parse(&text),
            Some(Identity {
                task: "web (blue)".into(),
                job: "shop".into(),
                alloc_id: "1a2b3c4d-0000".into(),
            })
        );
    }

    #[test]
    fn other_descriptions_are_not_tasks() {
        assert_eq!(parse("exec in nomad-a-web-1.service: sh"), None);
        assert_eq!(parse("Nomad task web"), None);
        assert_eq!(parse("/bin/sleep 600"), None);
    }
}
