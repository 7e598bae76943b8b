//! The operator's own terminal: raw mode while an interactive session lasts, its size, and
//! what a task's output may show on it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::pty::Winsize;
use nix::sys::termios::{self, SetArg, Termios};

/// Puts a terminal in raw mode (keys, Ctrl-C included, go to the remote side as typed) and
/// restores its settings when dropped.
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    pub fn enter(fd: BorrowedFd<'a>) -> nix::Result<RawMode<'a>> {
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// The terminal's size as (rows, columns), if `fd` is a terminal.
pub fn size(fd: impl AsFd) -> Option<(u16, u16)> {
    nix::ioctl_read_bad!(get_window_size, nix::libc::TIOCGWINSZ, Winsize);
    let mut size = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, valid for the call.
    unsafe { get_window_size(fd.as_fd().as_raw_fd(), &mut size) }.ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// A line of the task's output fit for the operator's terminal: control characters (escape
/// sequences that could retitle, clear or reprogram the terminal; the task is the job
/// author's) written as `\xNN`, tabs kept, bytes that are not UTF-8 as U+FFFD. journalctl
/// likewise refuses to print control characters to a terminal. `run --pipe` and `--pty` hand
/// the task a terminal as it is, on the operator's explicit request; output that goes to a
/// pipe or a file is written as the task wrote it.
pub fn visible(message: &[u8]) -> String {
    let mut shown = String::with_capacity(message.len());
    for c in String::from_utf8_lossy(message).chars() {
        if c.is_control() && c != '\t' {
            shown.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(visible(b"plain\ttext \xc3\xa9"), "plain\ttext \u{e9}");
        assert_eq!(
            visible(b"\x1b]0;title\x07\x1b[2J"),
            "\\x1b]0;title\\x07\\x1b[2J"
        );
        assert_eq!(visible("\u{9b}31m".as_bytes()), "\\x9b31m");
        assert_eq!(visible(b"cr\rdel\x7f"), "cr\\x0ddel\\x7f");
        assert_eq!(visible(b"\xff"), "\u{fffd}");
    }
}
