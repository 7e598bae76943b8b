//! `nomad-systemd doctor`: what the plugin's fingerprint sees on this host, and what to change
//! where a task would fail. The looking and judging is [`crate::core::host_probe`] and
//! [`crate::core::host_check`]; this file only prints.

use std::process::ExitCode;

use clap::Args;

use super::format;
use super::{GlobalArgs, OutputFormat};
use crate::core::host::CgroupMode;
use crate::core::host_check::{self, Health, HostFacts, Report, Severity};
use crate::core::{EngineOptions, Error, host_probe};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A table for people, or JSON (the facts, the findings and the health) for programs.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: DoctorArgs) -> Result<ExitCode, Error> {
    let bus = global.bus();
    let slice = global
        .slice
        .clone()
        .unwrap_or_else(|| EngineOptions::for_bus(bus).slice);
    let report = Report::of(host_probe::examine(bus, &slice).await?);
    match args.output {
        OutputFormat::Json => format::print_json(&report)?,
        OutputFormat::Table => print_report(&report, &slice),
    }
    Ok(if report.tasks_would_fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(report: &Report, slice: &str) {
    let f = &report.facts;
    let row = |label: &str, value: String| println!("{label:<13} {value}");
    row("systemd", systemd_line(f));
    if let Some(mode) = f.cgroup {
        row("cgroup", cgroup_line(mode));
    }
    if let Some(c) = &f.controllers {
        row("controllers", format!("available: {}", words(&c.available)));
        let enabled = match &c.enabled {
            Some(e) => words(e),
            None => "none yet (systemd creates the slice with the first task)".into(),
        };
        row("", format!("{slice} ({}): {enabled}", c.slice_cgroup));
    }
    let daemon = f.bus_daemon.as_deref().unwrap_or("unknown daemon");
    row("bus", format!("{} ({daemon})", f.bus.name()));
    if let Some(m) = &f.user_manager {
        let dir = match (&m.runtime_dir, m.runtime_dir_exists) {
            (Some(d), true) => d.clone(),
            (Some(d), false) => format!("{d} (missing)"),
            (None, _) => "XDG_RUNTIME_DIR unset".into(),
        };
        let manager = m.cgroup.as_deref().unwrap_or("not answering");
        let linger = match m.lingering {
            Some(true) => "lingers",
            Some(false) => "does not linger",
            None => "linger unknown",
        };
        row("user manager", format!("{manager}; {dir}; {linger}"));
    }
    if let Some(present) = f.polkit {
        let uid = f.uid.map_or_else(|| "?".into(), |u| u.to_string());
        let state = if present { "available" } else { "absent" };
        row(
            "polkit",
            format!("{state} (caller uid {uid}; root needs none)"),
        );
    }
    if let Some(n) = &f.nss_systemd {
        let yes = |b: bool| if b { "yes" } else { "no" };
        row(
            "nss-systemd",
            format!(
                "passwd {}, group {}, library {}",
                yes(n.passwd),
                yes(n.group),
                yes(n.library)
            ),
        );
    }
    for p in &f.partitions {
        let state = match (&p.cpus, p.exists) {
            (Some(cpus), _) => format!("cores {cpus}"),
            (None, true) => "no cores set".into(),
            (None, false) => "absent (no Nomad client here, or another cgroup_parent)".into(),
        };
        row(&format!("nomad {}", p.name), format!("{} {state}", p.path));
    }
    row("fingerprint", health_line(&report.health));
    if report.findings.is_empty() {
        println!("\nNothing to change.");
        return;
    }
    println!();
    for finding in &report.findings {
        println!(
            "{}: {}: {}",
            severity_label(finding.severity),
            finding.topic,
            finding.problem
        );
        println!("  change: {}", finding.fix);
    }
}

fn systemd_line(f: &HostFacts) -> String {
    match (&f.systemd_version, &f.unreachable) {
        (Some(v), _) => format!("{v} (supported: {} or later)", host_check::MIN_SYSTEMD),
        (None, Some(why)) => format!("not answering: {why}"),
        (None, None) => "not answering".into(),
    }
}

fn cgroup_line(mode: CgroupMode) -> String {
    match mode {
        CgroupMode::V2 => "v2 (unified)",
        CgroupMode::Hybrid => "hybrid (v1 controllers beside the unified hierarchy)",
        CgroupMode::V1 => "v1 (legacy)",
    }
    .to_string()
}

fn health_line(health: &Health) -> String {
    match health {
        Health::Healthy => "healthy".into(),
        Health::Unhealthy(why) => format!("unhealthy: {why}"),
        Health::Undetected(why) => format!("undetected: {why}"),
    }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "warning",
        Severity::TasksFail => "tasks fail",
        Severity::Unsupported => "unsupported",
        Severity::NoSystemd => "no systemd",
    }
}

fn words(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(" ")
    }
}
