//! Asking the operator before a command acts on many tasks at once.
//!
//! Only a person at a terminal is asked: when stdin is not one (a script, a pipe, cron) there
//! is nobody to answer, so the command is refused unless `--yes` said so beforehand.

use std::io::{self, BufRead, IsTerminal, Write};

/// Whether someone can answer: stdin is a terminal.
pub fn can_ask() -> bool {
    io::stdin().is_terminal()
}

/// Writes `question` and ` [y/N] ` to `out` and reads one line from `input`: `true` only
/// for `y` or `yes` (any case, surrounding blanks ignored); anything else, an empty line or
/// the end of input is no.
pub fn ask(question: &str, input: &mut impl BufRead, out: &mut impl Write) -> io::Result<bool> {
    write!(out, "{question} [y/N] ")?;
    out.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        writeln!(out)?;
        return Ok(false);
    }
    let answer = line.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(typed: &str) -> bool {
        let mut out = Vec::new();
        let yes = ask("Stop 2 tasks?", &mut typed.as_bytes(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap().trim_end(),
            "Stop 2 tasks? [y/N]"
        );
        yes
    }

    #[test]
    fn only_yes_is_yes() {
        for typed in ["y\n", "Y\n", "yes\n", " YES \n", "y"] {
            assert!(answer(typed), "{typed:?}");
        }
        for typed in ["\n", "n\n", "no\n", "yess\n", "", "ja\n"] {
            assert!(!answer(typed), "{typed:?}");
        }
    }
}
