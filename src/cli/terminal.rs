//! The operator's own terminal, for an interactive `exec`: raw mode while the session lasts,
//! and its size.

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
