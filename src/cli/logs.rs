//! `nomad-systemd logs`: a task's output from the journal, stdout to stdout and stderr to
//! stderr.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use super::{GlobalArgs, resolve};
use crate::core::Error;
use crate::core::logs::{self, LogQuery, Stream};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task: its unit name, an allocation id prefix, job/task, the task name or a glob
    /// matching one unit (see `nomad-systemd --help`).
    #[arg(value_name = "TASK")]
    task: String,
    /// Keep printing new output until interrupted.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Only the task's stdout.
    #[arg(long, conflicts_with = "stderr")]
    stdout: bool,
    /// Only the task's stderr.
    #[arg(long)]
    stderr: bool,
    /// Only the last N lines.
    #[arg(long, short = 'n', value_name = "N")]
    lines: Option<u64>,
}

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> Result<ExitCode, Error> {
    let stream = match (args.stdout, args.stderr) {
        (true, _) => Some(Stream::Stdout),
        (_, true) => Some(Stream::Stderr),
        _ => None,
    };
    let engine = global.engine().await?;
    let unit = resolve::one(&engine, global.scope(), &args.task).await?;
    let query = LogQuery {
        unit,
        bus: global.bus(),
        follow: args.follow,
        stream,
        lines: args.lines,
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    logs::read(&query, |line| {
        let sink: &mut dyn Write = match line.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        sink.write_all(&line.message)?;
        sink.write_all(b"\n")?;
        if query.follow {
            sink.flush()?;
        }
        Ok(())
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
