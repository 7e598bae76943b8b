//! `nomad-systemd ps`: the task units, like `docker ps` and `nomad job status`.
//!
//! The table fits the terminal (80 columns when stdout is not one): allocation ids are
//! shortened to eight characters as `nomad alloc status` shows them, and long job, task and
//! unit names end in `…`; `--no-trunc` shows everything in full. Any row's task can be named
//! to the other commands by its short alloc id ([`super::resolve`]).
//!
//! The default table comes from systemd's unit listing alone (one call, however many tasks),
//! plus one read per exited task for its exit status; `-o wide` and `-o json`, and a given
//! `--slice` ([`super::listing`]), read every unit.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::terminal::printable;
use super::{GlobalArgs, format, listing, terminal};
use crate::core::{Engine, Error, ExitResult, TaskState, TaskStatus, TaskSummary, UnitName};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The width a table is fitted to when stdout is not a terminal.
const DEFAULT_WIDTH: usize = 80;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Include tasks that have exited.
    #[arg(long, short = 'a')]
    all: bool,
    /// The same as `-o wide`.
    #[arg(long, short = 'l', conflicts_with = "output")]
    long: bool,
    /// Show full allocation ids and unit names, however wide the table gets.
    #[arg(long)]
    no_trunc: bool,
    /// `table`; `wide` adds each task's main PID, CPU time, memory and uptime (reads every
    /// unit); `json` prints every field, `null` where a value is unknown or absent.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: PsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Wide,
    Json,
}

pub async fn run(global: &GlobalArgs, args: PsArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let shown = |state: TaskState| args.all || state != TaskState::Exited;
    let output = if args.long {
        PsFormat::Wide
    } else {
        args.output
    };
    let width = (!args.no_trunc).then(|| {
        terminal::size(std::io::stdout()).map_or(DEFAULT_WIDTH, |(_, cols)| usize::from(cols))
    });
    match output {
        PsFormat::Json => {
            let tasks: Vec<PsEntry> = listing::statuses(&engine, global.scope())
                .await?
                .into_iter()
                .filter(|t| shown(t.state))
                .map(PsEntry::from)
                .collect();
            format::print_json(&tasks)?;
        }
        PsFormat::Wide => {
            let tasks = listing::statuses(&engine, global.scope()).await?;
            let rows = tasks.iter().filter(|t| shown(t.state)).map(|t| {
                let mut row = Row::new(&t.alloc_id, &t.job, &t.task, t.state, t.exit, &t.unit);
                row.wide = Some([
                    if t.main_pid == 0 {
                        "-".into()
                    } else {
                        t.main_pid.to_string()
                    },
                    format::optional(t.cpu_ns, format::cpu_time),
                    format::optional(t.memory_bytes, format::bytes),
                    format::uptime(t),
                ]);
                row
            });
            print!("{}", render(rows.collect(), true, width));
        }
        PsFormat::Table => {
            let tasks: Vec<TaskSummary> = listing::tasks(&engine, global.scope())
                .await?
                .into_iter()
                .filter(|t| shown(t.state))
                .collect();
            let rows = short_rows(&engine, &tasks).await;
            print!("{}", render(rows, false, width));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A task as `ps -o json` prints it: the fields of [`TaskStatus`], with `null` (never `0`)
/// for what a task does not have (no main process, not started, not exited).
#[derive(Debug, Serialize)]
struct PsEntry {
    unit: UnitName,
    task: String,
    alloc_id: String,
    job: String,
    state: TaskState,
    main_pid: Option<u32>,
    started_at_us: Option<u64>,
    exited_at_us: Option<u64>,
    cpu_ns: Option<u64>,
    memory_bytes: Option<u64>,
    exit: Option<ExitResult>,
}

impl From<TaskStatus> for PsEntry {
    fn from(t: TaskStatus) -> PsEntry {
        PsEntry {
            unit: t.unit,
            task: t.task,
            alloc_id: t.alloc_id,
            job: t.job,
            state: t.state,
            main_pid: (t.main_pid != 0).then_some(t.main_pid),
            started_at_us: (t.started_at_us != 0).then_some(t.started_at_us),
            exited_at_us: (t.exited_at_us != 0).then_some(t.exited_at_us),
            cpu_ns: t.cpu_ns,
            memory_bytes: t.memory_bytes,
            exit: t.exit,
        }
    }
}

async fn short_rows(engine: &Engine, tasks: &[TaskSummary]) -> Vec<Row> {
    let mut rows = Vec::new();
    for t in tasks {
        let exit = if t.state == TaskState::Exited {
            engine.status(&t.unit).await.ok().and_then(|s| s.exit)
        } else {
            None
        };
        rows.push(Row::new(
            &t.alloc_id,
            &t.job,
            &t.task,
            t.state,
            exit,
            &t.unit,
        ));
    }
    rows
}

/// One task's cells, in full; [`render`] shortens them.
struct Row {
    alloc: String,
    job: String,
    task: String,
    state: &'static str,
    /// PID, CPU, MEMORY, UPTIME for `-o wide`.
    wide: Option<[String; 4]>,
    exit: String,
    unit: String,
}

impl Row {
    fn new(
        alloc: &str,
        job: &str,
        task: &str,
        state: TaskState,
        exit: Option<ExitResult>,
        unit: &UnitName,
    ) -> Row {
        // The job author's names: never a control character to the operator's terminal.
        Row {
            alloc: printable(alloc),
            job: printable(job),
            task: printable(task),
            state: format::state(state),
            wide: None,
            exit: format::exit(exit),
            unit: unit.to_string(),
        }
    }
}

/// How a fitted table makes room, step by step until it fits: the column to shorten and
/// how narrow it may get. Unit names keep enough to recognise first (`nomad-<alloc>-<task>`),
/// then job and task names give way, then the unit name again.
const SHRINK: [(Column, usize); 4] = [
    (Column::Unit, 24),
    (Column::Job, 10),
    (Column::Task, 10),
    (Column::Unit, 12),
];
/// The widest a job or task name is shown before the unit column is shortened.
const NAME_CAP: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Job,
    Task,
    Unit,
}

/// The table as text. With a `width`, allocation ids are shortened to eight characters
/// and job, task and unit names are cut (ending in `…`) until every line fits, as far as
/// the columns' minimum widths allow; without one, everything is shown in full.
fn render(rows: Vec<Row>, wide: bool, width: Option<usize>) -> String {
    let mut header = vec!["ALLOC", "JOB", "TASK", "STATE"];
    if wide {
        header.extend(["PID", "CPU", "MEMORY", "UPTIME"]);
    }
    header.extend(["EXIT", "UNIT"]);
    let (job, task, unit) = (1, 2, header.len() - 1);
    let mut cells: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            let alloc = if width.is_some() {
                format::short_id(&r.alloc)
            } else {
                r.alloc
            };
            let mut line = vec![alloc, r.job, r.task, r.state.to_string()];
            if let Some(extra) = r.wide {
                line.extend(extra);
            }
            line.extend([r.exit, r.unit]);
            line
        })
        .collect();
    // Each column as wide as its widest cell.
    let widths = |cells: &[Vec<String>]| -> Vec<usize> {
        (0..header.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|l| l[i].width())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    };
    if let Some(width) = width {
        let mut limits = widths(&cells);
        limits[job] = limits[job].min(NAME_CAP);
        limits[task] = limits[task].min(NAME_CAP);
        // Two spaces between columns (see the padding below), none at either end.
        let total = |limits: &[usize]| limits.iter().sum::<usize>() + 2 * (limits.len() - 1);
        for (column, narrowest) in SHRINK {
            let i = match column {
                Column::Job => job,
                Column::Task => task,
                Column::Unit => unit,
            };
            let excess = total(&limits).saturating_sub(width);
            let room = limits[i].saturating_sub(narrowest);
            limits[i] -= excess.min(room);
        }
        for line in &mut cells {
            for (cell, &limit) in line.iter_mut().zip(&limits) {
                *cell = cut(cell, limit);
            }
        }
    }
    // Columns two spaces apart, none at either end, lines without trailing blanks: what
    // `docker ps` prints. Written out rather than through a table crate, which took half of
    // `ps`'s instructions (callgrind, 300 tasks).
    let widths = widths(&cells);
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut text = String::new();
    for line in std::iter::once(&header).chain(&cells) {
        let start = text.len();
        for (cell, width) in line.iter().zip(&widths) {
            text.push_str(cell);
            let pad = width - cell.width() + 2;
            text.extend(std::iter::repeat_n(' ', pad));
        }
        text.truncate(text[start..].trim_end().len() + start);
        text.push('\n');
    }
    text
}

/// `s` in at most `limit` columns of a terminal, ending in `…` when cut.
fn cut(s: &str, limit: usize) -> String {
    if s.width() <= limit {
        return s.to_string();
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > limit {
            break;
        }
        kept.push(c);
        used += w;
    }
    kept + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(alloc: &str, job: &str, task: &str) -> Row {
        Row::new(
            alloc,
            job,
            task,
            TaskState::Exited,
            Some(ExitResult {
                exit_code: 143,
                signal: 15,
                oom_killed: false,
            }),
            &UnitName::for_task(alloc, task, "0123456789abcdef"),
        )
    }

    fn rows() -> Vec<Row> {
        vec![
            row("6b78bd0c-1111-2222-3333-444455556666", "shop", "web"),
            row(
                "9f00aa11-0000-0000-0000-000000000000",
                "a-job-with-a-very-long-name-indeed",
                "a-task-with-an-even-longer-name-than-its-job",
            ),
        ]
    }

    #[test]
    fn the_table_fits_80_columns_with_short_ids() {
        let text = render(rows(), false, Some(80));
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
        }
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ALLOC"), "{text}");
        assert!(lines[1].starts_with("6b78bd0c  shop"), "{text}");
        assert!(!text.contains("6b78bd0c-1111"), "{text}");
        assert!(lines[1].contains("SIGTERM") && lines[1].contains("nomad-6b78bd0c-web"));
        assert!(lines[2].contains('…'), "{text}");
    }

    #[test]
    fn wide_fits_a_wide_terminal_and_no_trunc_shows_everything() {
        let wide = rows()
            .into_iter()
            .map(|mut r| {
                r.wide = Some([
                    "4242".into(),
                    "1.25s".into(),
                    "12.0M".into(),
                    "3m04s".into(),
                ]);
                r
            })
            .collect();
        let text = render(wide, true, Some(132));
        assert!(text.lines().next().unwrap().contains("PID"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 132, "{line}");
        }
        let full = render(rows(), false, None);
        assert!(
            full.contains("6b78bd0c-1111-2222-3333-444455556666"),
            "{full}"
        );
        assert!(full.contains("a-task-with-an-even-longer-name-than-its-job"));
        let unit = UnitName::for_task(
            "9f00aa11",
            "a-task-with-an-even-longer-name-than-its-job",
            "0123456789abcdef",
        );
        assert!(full.contains(unit.as_str()), "{full}");
        assert!(!full.contains('…'));
    }

    #[test]
    fn columns_line_up_on_a_terminal_for_wide_characters_too() {
        let mut rows = rows();
        rows.push(row("0a1b2c3d-0000-0000-0000-000000000000", "商店", "网站"));
        let text = render(rows, false, Some(80));
        // Every line's STATE column starts at the same terminal column.
        let columns: Vec<usize> = text
            .lines()
            .map(|l| l[..l.find("STATE").or_else(|| l.find("exited")).unwrap()].width())
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert_eq!(cut("商店商店", 5), "商店…");
        assert_eq!(cut("shop", 4), "shop");
    }

    #[test]
    fn json_says_null_for_what_a_task_lacks() {
        let status = TaskStatus {
            unit: UnitName::parse("nomad-x").unwrap(),
            task: "t".into(),
            alloc_id: "a".into(),
            job: "j".into(),
            state: TaskState::Starting,
            main_pid: 0,
            started_at_us: 0,
            exited_at_us: 0,
            cpu_ns: None,
            memory_bytes: None,
            exit: None,
        };
        let json = serde_json::to_value(PsEntry::from(status)).unwrap();
        for field in [
            "main_pid",
            "started_at_us",
            "exited_at_us",
            "cpu_ns",
            "memory_bytes",
            "exit",
        ] {
            assert!(json[field].is_null(), "{field}: {json}");
        }
        assert_eq!(json["unit"], "nomad-x.service");
        assert_eq!(json["state"], "starting");
    }
}
