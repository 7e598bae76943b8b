//! The CLI run on a pseudo-terminal, as an operator at a shell runs it.

use std::io::{Read, Write};

/// Runs `nomad-systemd ARGS` with a new pty (of `size`, if given) as its stdin, stdout and
/// stderr, types `typed` ahead (the terminal keeps it until the command reads), and returns
/// the exit code and everything the command wrote.
pub fn run_on_terminal(
    args: &[&str],
    size: Option<(u16, u16)>,
    typed: &str,
) -> (Option<i32>, String) {
    let size = size.map(|(rows, cols)| nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    let pty = nix::pty::openpty(size.as_ref(), None).unwrap();
    let slave = || std::process::Stdio::from(pty.slave.try_clone().unwrap());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .args(args)
        .env_remove("NOMAD_SYSTEMD_BUS")
        .env_remove("NOMAD_SYSTEMD_SLICE")
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let reader = {
        let mut master = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&seen).into_owned()
        })
    };
    master.write_all(typed.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    drop(master);
    (status.code(), reader.join().unwrap())
}

/// `nomad-systemd ARGS` on a pty that is its controlling terminal, as at a shell: Ctrl-C
/// typed into it is SIGINT to the command. Read what it wrote as it writes it, type while it
/// runs.
pub struct Terminal {
    child: std::process::Child,
    master: std::fs::File,
    seen: std::sync::mpsc::Receiver<Vec<u8>>,
    output: String,
}

impl Terminal {
    pub fn start(args: &[&str]) -> Terminal {
        use std::os::unix::process::CommandExt;
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = || std::process::Stdio::from(pty.slave.try_clone().unwrap());
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-systemd"));
        command
            .args(args)
            .env_remove("NOMAD_SYSTEMD_BUS")
            .env_remove("NOMAD_SYSTEMD_SLICE")
            .stdin(slave())
            .stdout(slave())
            .stderr(slave());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let (tx, seen) = std::sync::mpsc::channel();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // A pty master ends with EIO once the command's side is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            master,
            seen,
            output: String::new(),
        }
    }

    /// Everything the command has written up to the first `text` after what earlier calls
    /// consumed; panics with what was written if `text` does not come within a minute (a
    /// guard against hanging, not a measure of time).
    pub fn expect(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(at) = self.output.find(text) {
                let upto: String = self.output.drain(..at + text.len()).collect();
                return upto;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(bytes) => self.output.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("'{text}' never came; the terminal shows:\n{}", self.output),
            }
        }
    }

    /// The command's process id, to signal it.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    pub fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Waits for the command to exit; its exit code and what it wrote that no `expect` took.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        drop(self.master);
        while let Ok(bytes) = self.seen.recv() {
            self.output.push_str(&String::from_utf8_lossy(&bytes));
        }
        (status.code(), self.output)
    }
}
