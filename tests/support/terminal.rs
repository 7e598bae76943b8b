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
