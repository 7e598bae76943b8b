//! The core's one error type. Each variant names something a caller can act on; the messages are
//! written for the person who will read them. Each caller words an error for its reader: the
//! plugin passes [`Error::InvalidConfig`] to Nomad as the job's fault, the CLI names the option
//! a value came from ([`Error::InvalidArgument`], [`Error::reason`]).

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The task config is wrong. Nothing was created; fix the named setting and retry.
    #[error("invalid task config: {setting}: {reason}")]
    InvalidConfig { setting: String, reason: String },

    /// A value the caller was given directly (an option on a command line, not a task's
    /// config) is wrong; `argument` names it as the caller knows it (`--signal`, `--task`).
    /// Nothing was done.
    #[error("{argument}: {reason}")]
    InvalidArgument { argument: String, reason: String },

    /// No unit of that name is loaded (it never existed or was already destroyed).
    #[error("no task unit named {0} (it may have been destroyed already)")]
    NotFound(String),

    /// A task named by an operator matches no task, or more than one where one is needed;
    /// the message says what was looked for or lists the candidates.
    #[error("{0}")]
    Unresolved(String),

    /// The task has no process left to signal (its main process already exited).
    #[error("task {0} has no running process to signal (it has exited)")]
    NoSuchProcess(String),

    /// The unit name is taken by a unit that is still loaded.
    #[error("a unit named {0} already exists; destroy it first or start under another name")]
    AlreadyExists(String),

    /// The bus or systemd on it could not be reached. Retrying later may succeed.
    #[error("cannot reach systemd on the {bus} bus: {reason}")]
    Unreachable { bus: &'static str, reason: String },

    /// systemd answered but refused the request; `message` is systemd's own words.
    #[error("systemd refused to {action} {unit}: {message}")]
    Refused {
        action: &'static str,
        unit: String,
        message: String,
    },

    /// The unit was created but the task never ran (for example the command could not be
    /// executed). The unit has been removed again.
    #[error("task {unit} failed to start: {reason}")]
    StartFailed { unit: String, reason: String },

    /// systemd did not finish a job within the time we allow it.
    #[error("timed out after {seconds}s waiting for systemd to {action} {unit}")]
    Timeout {
        action: &'static str,
        unit: String,
        seconds: u64,
    },

    /// Something the task needs was not ready within the time we wait for it (a log FIFO
    /// whose reader never opened). Nothing was created; retrying later may succeed.
    #[error("{what} was not ready within {seconds}s: {reason}")]
    NotReady {
        what: String,
        seconds: u64,
        reason: String,
    },

    /// A local I/O operation (task directories, journal, cgroupfs) failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidConfig {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    pub fn argument(argument: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            argument: argument.into(),
            reason: reason.into(),
        }
    }

    /// The reason alone, without the setting or argument it is about: for a caller that
    /// names the setting its own way (a command-line parser naming the option).
    pub fn reason(&self) -> String {
        match self {
            Error::InvalidConfig { reason, .. } | Error::InvalidArgument { reason, .. } => {
                reason.clone()
            }
            other => other.to_string(),
        }
    }

    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying the same request later can succeed (systemd busy or unreachable, a
    /// log FIFO's reader not open yet).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Unreachable { .. } | Error::Timeout { .. } | Error::NotReady { .. }
        )
    }
}
