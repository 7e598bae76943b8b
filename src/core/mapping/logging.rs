//! Output and journal metadata → `StandardOutputFileDescriptor`, `StandardErrorFileDescriptor`,
//! `SyslogIdentifier`, `LogExtraFields`.
//!
//! The task's stdout and stderr are always file descriptors handed to systemd (Nomad's FIFOs,
//! files, or journal streams opened by [`crate::core::stdio`]), so PID 1 holds them for the
//! task's whole life and no process of ours sits in the data path.

use crate::core::description::Origin;
use crate::core::property::{Property, Value};
use crate::core::stdio::Output;
use crate::core::task::TaskSpec;

/// Journal fields every task's log lines carry, for `journalctl NOMAD_ALLOC_ID=...`.
pub const FIELD_ALLOC_ID: &str = "NOMAD_ALLOC_ID";
pub const FIELD_TASK_NAME: &str = "NOMAD_TASK_NAME";
pub const FIELD_JOB_NAME: &str = "NOMAD_JOB_NAME";
pub const FIELD_GROUP_NAME: &str = "NOMAD_GROUP_NAME";
/// The task's [`TaskSpec::fingerprint`], which lets a retried start recognise its unit.
pub const FIELD_TASK_CONFIG: &str = "NOMAD_TASK_CONFIG_DIGEST";
/// On a task the operator's CLI started with task directories it created
/// (`nomad-systemd run --task-dir`): the task's own directory, `<root>/<alloc_id>/<task>`,
/// which `nomad-systemd stop` removes. The unit's settings are the CLI's, so the record is
/// the CLI's own; Nomad's tasks never carry it.
pub const FIELD_TASK_DIR: &str = "NOMAD_SYSTEMD_TASK_DIR";

/// The journal metadata of the task's log lines.
pub fn properties(spec: &TaskSpec) -> Vec<Property> {
    let digest = spec.fingerprint();
    let task_dir = spec
        .dirs
        .as_ref()
        .filter(|_| spec.origin == Origin::Cli)
        .map(|d| d.task_dir().to_string_lossy().into_owned());
    let fields = [
        (FIELD_ALLOC_ID, &spec.alloc_id),
        (FIELD_TASK_NAME, &spec.name),
        (FIELD_JOB_NAME, &spec.job_name),
        (FIELD_GROUP_NAME, &spec.group_name),
        (FIELD_TASK_CONFIG, &digest),
    ]
    .into_iter()
    .chain(task_dir.as_ref().map(|d| (FIELD_TASK_DIR, d)))
    .map(|(k, v)| format!("{k}={v}").into_bytes())
    .collect();
    vec![
        Property::new("SyslogIdentifier", Value::Str(spec.name.clone())),
        Property::new("LogExtraFields", Value::ByteStrings(fields)),
    ]
}

/// The properties [`output`] sets, stdout's first.
pub const OUTPUT_PROPERTIES: [&str; 2] = [
    "StandardOutputFileDescriptor",
    "StandardErrorFileDescriptor",
];

/// The descriptors the task's stdout and stderr are connected to, its stdin when it has one
/// (otherwise systemd's default, `/dev/null`), and the terminal they are, if they are one.
pub fn output(output: &Output) -> Vec<Property> {
    let [stdout, stderr] = OUTPUT_PROPERTIES;
    let mut props = vec![
        Property::new(stdout, Value::Fd(output.stdout.clone())),
        Property::new(stderr, Value::Fd(output.stderr.clone())),
    ];
    if let Some(stdin) = &output.stdin {
        props.push(Property::new(
            "StandardInputFileDescriptor",
            Value::Fd(stdin.clone()),
        ));
    }
    if let Some(path) = &output.tty_path {
        props.push(Property::new(
            "TTYPath",
            Value::Str(path.display().to_string()),
        ));
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;

    #[test]
    fn fields_identify_the_task_in_the_journal() {
        let mut props = properties(&test_spec());
        props.extend(output(&Output::discard().unwrap()));
        let Some(Value::ByteStrings(fields)) = find(&props, "LogExtraFields") else {
            panic!()
        };
        assert!(fields.contains(&b"NOMAD_ALLOC_ID=a1".to_vec()));
        assert!(fields.contains(&b"NOMAD_TASK_NAME=web".to_vec()));
        let digest = format!("NOMAD_TASK_CONFIG_DIGEST={}", test_spec().fingerprint());
        assert!(fields.contains(&digest.into_bytes()));
        let mut other = test_spec();
        other.args.push("x".into());
        assert_ne!(other.fingerprint(), test_spec().fingerprint());
        let mut moved = test_spec();
        moved.resources.cores = "0-1".into();
        assert_eq!(
            moved.fingerprint(),
            test_spec().fingerprint(),
            "cores follow Nomad"
        );
        assert_eq!(find(&props, "LogExtraFields").unwrap().signature(), "aay");
        assert_eq!(
            find(&props, "StandardOutputFileDescriptor")
                .unwrap()
                .signature(),
            "h"
        );
        assert!(matches!(find(&props, "SyslogIdentifier"), Some(Value::Str(s)) if s == "web"));
    }
}
