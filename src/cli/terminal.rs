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
    escaped(&String::from_utf8_lossy(message), |c| c == '\t')
}

/// A name or value the job author chose (a job or task name, a command, a user), fit for a
/// table or a line the CLI prints: every control character written as `\xNN`, tab and
/// newline too, which would break the table's columns or rows. `ps`, `status`, `stop` and
/// the errors that list tasks show names through this; `-o json` carries them as they are
/// (JSON escapes control characters itself).
pub fn printable(text: &str) -> String {
    escaped(text, |_| false)
}

/// A message of one or more lines that may quote the job author's names or values (an
/// error): [`printable`], but its lines stay lines.
pub fn printable_lines(text: &str) -> String {
    escaped(text, |c| c == '\n')
}

fn escaped(text: &str, keep: impl Fn(char) -> bool) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !keep(c) {
            shown.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::{printable, printable_lines, visible};

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

    #[test]
    fn a_printable_name_keeps_to_its_line_and_column() {
        assert_eq!(printable("web (blue) \u{e9}"), "web (blue) \u{e9}");
        assert_eq!(printable("a\x1b[31mred\tb\nc"), "a\\x1b[31mred\\x09b\\x0ac");
        assert_eq!(printable("\u{9b}2J"), "\\x9b2J");
        assert_eq!(
            printable_lines("no task: 'a\x07'\n  hint"),
            "no task: 'a\\x07'\n  hint"
        );
    }
}
