//! How a task ended, in Nomad's terms.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::signal::Signal;

/// `waitid()` codes systemd reports as `ExecMainCode`.
const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
const CLD_DUMPED: i32 = 3;

/// The end of a task's main process: Nomad's `ExitResult`.
///
/// A death by signal reports `signal` and, like Nomad's executors, `exit_code = 128 + signal`.
/// That holds for SIGTERM too, which systemd itself counts as a clean `Result=success`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitResult {
    pub exit_code: i32,
    /// The signal that killed the process; 0 if it exited by itself.
    pub signal: i32,
    pub oom_killed: bool,
}

impl ExitResult {
    /// From systemd's `ExecMainCode`, `ExecMainStatus` and the service's `Result`.
    pub fn from_main_process(code: i32, status: i32, result: &str) -> ExitResult {
        let oom_killed = result == "oom-kill";
        match code {
            CLD_KILLED | CLD_DUMPED => ExitResult {
                exit_code: 128 + status,
                signal: status,
                oom_killed,
            },
            CLD_EXITED => ExitResult {
                exit_code: status,
                signal: 0,
                oom_killed,
            },
            // The main process never ran or was never reaped; report what systemd concluded.
            _ => ExitResult {
                exit_code: if result == "success" { 0 } else { 1 },
                signal: 0,
                oom_killed,
            },
        }
    }

    pub fn successful(&self) -> bool {
        self.exit_code == 0 && self.signal == 0 && !self.oom_killed
    }
}

impl fmt::Display for ExitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.signal != 0 {
            match Signal::from_number(self.signal) {
                Some(s) => write!(f, "killed by {s}")?,
                None => write!(f, "killed by signal {}", self.signal)?,
            }
            write!(f, " (exit code {})", self.exit_code)?;
        } else {
            write!(f, "exit code {}", self.exit_code)?;
        }
        if self.oom_killed {
            f.write_str(", out of memory")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_exit_keeps_its_code() {
        let r = ExitResult::from_main_process(CLD_EXITED, 7, "exit-code");
        assert_eq!((r.exit_code, r.signal, r.oom_killed), (7, 0, false));
        assert_eq!(r.to_string(), "exit code 7");
        assert!(ExitResult::from_main_process(CLD_EXITED, 0, "success").successful());
    }

    #[test]
    fn signal_deaths_are_128_plus_signo_even_when_systemd_says_success() {
        let term = ExitResult::from_main_process(CLD_KILLED, 15, "success");
        assert_eq!((term.exit_code, term.signal), (143, 15));
        assert!(!term.successful());
        let kill = ExitResult::from_main_process(CLD_KILLED, 9, "signal");
        assert_eq!(kill.to_string(), "killed by SIGKILL (exit code 137)");
        let core = ExitResult::from_main_process(CLD_DUMPED, 6, "core-dump");
        assert_eq!(core.signal, 6);
    }

    #[test]
    fn oom_kill_is_reported() {
        let r = ExitResult::from_main_process(CLD_KILLED, 9, "oom-kill");
        assert!(r.oom_killed);
        assert!(r.to_string().ends_with("out of memory"));
    }
}
