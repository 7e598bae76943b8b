//! A one-line spinner on stderr while the CLI waits on systemd — only when stderr is a
//! terminal, so scripts and pipes never see it.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::task::JoinHandle;

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
const TICK: Duration = Duration::from_millis(100);

/// Shows `message` with a spinner until dropped; dropping clears the line.
pub struct Progress {
    spinner: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn show(message: impl Into<String>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { spinner: None };
        }
        let message = message.into();
        // The first frame now, so even a short wait shows what is being waited for.
        let _ = write!(std::io::stderr(), "\r{} {message}", FRAMES[0]);
        let spinner = tokio::spawn(async move {
            for frame in FRAMES.iter().cycle().skip(1) {
                tokio::time::sleep(TICK).await;
                let _ = write!(std::io::stderr(), "\r{frame} {message}");
            }
        });
        Progress {
            spinner: Some(spinner),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.abort();
            // Carriage return and "erase line": the next output starts on a clean line.
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
