//! What each command's manual says beyond its options: exit statuses, environment, files,
//! examples and related pages. The one place this is written: `--help` shows the exit
//! statuses and examples ([`after_help`]), and the man pages render every part
//! ([`super::generate`]).
//!
//! Exit statuses are the ones the command's code returns; a status every command shares (a
//! usage error is 2, an error with a message 1) is said on each page that can return it, so
//! a page read alone is complete.

/// One page's extra parts. `command` is the subcommand's name, empty for the top page.
pub struct Page {
    pub command: &'static str,
    /// `(status, when)`, in ascending order of status.
    pub exit_status: &'static [(&'static str, &'static str)],
    /// Variables read by this command, besides [`CLI_ENVIRONMENT`] (which every command but
    /// `plugin` and `completion` reads).
    pub environment: &'static [(&'static str, &'static str)],
    /// Paths this command reads or writes, besides the D-Bus sockets every command uses.
    pub files: &'static [(&'static str, &'static str)],
    /// `(what it does, command line)`.
    pub examples: &'static [(&'static str, &'static str)],
    /// Pages to read next, as `name(section)`, besides nomad-systemd(1).
    pub see_also: &'static [&'static str],
    /// Whether the command talks to systemd over D-Bus (and so reads [`CLI_ENVIRONMENT`]).
    pub uses_bus: bool,
}

const USAGE: (&str, &str) = (
    "2",
    "A usage error: an unknown option, a missing or malformed argument (the message says which).",
);

/// The forms a task may be named by on the command line (see `resolve.rs`), with examples.
pub const TASK_NAMES: &[(&str, &str)] = &[
    (
        "its unit name, with or without .service",
        "nomad-6b78bd0c-web-0a1b2c3d4e5f6a7b",
    ),
    ("an allocation id prefix (2+ characters)", "6b78bd0c"),
    ("job/task, or alloc-prefix/task", "shop/web, 6b78/web"),
    ("the task name alone", "web"),
    (
        "a glob on unit names, or on job/task",
        "'nomad-6b78*', 'shop/*'",
    ),
];

/// What [`TASK_NAMES`] apply to, and what happens when a name fits several tasks.
pub const TASK_NAMES_INTRO: &str = "status, stats, logs, exec, signal and stop name a task among \
    those `ps --all` lists (on the chosen bus, and in --slice when given), by any of these.";
pub const TASK_NAMES_OUTRO: &str = "A name matching several tasks is an error listing them; \
    only stop accepts a glob matching several, and asks first (--yes answers beforehand).";

/// The variables every command that talks to systemd reads.
pub const CLI_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "NOMAD_SYSTEMD_BUS",
        "The default for --bus: system or user.",
    ),
    (
        "NOMAD_SYSTEMD_SLICE",
        "The default for --slice: the slice task units are placed in, and the only one task \
         names and ps look in.",
    ),
    (
        "DBUS_SYSTEM_BUS_ADDRESS",
        "Where the system bus is [default: unix:path=/run/dbus/system_bus_socket].",
    ),
    (
        "DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR",
        "Where the user bus is, with --bus user [default: $XDG_RUNTIME_DIR/bus].",
    ),
    (
        "RUST_LOG",
        "Diagnostics on stderr, as a tracing filter directive (e.g. nomad_systemd=debug) \
         [default: none].",
    ),
];

/// The paths every command that talks to systemd uses.
const BUS_FILES: &[(&str, &str)] = &[
    (
        "/run/dbus/system_bus_socket",
        "The system bus, through which systemd is asked for everything.",
    ),
    (
        "$XDG_RUNTIME_DIR/bus",
        "The user bus, with --bus user (the calling user's service manager).",
    ),
];

const TRANSIENT: (&str, &str) = (
    "/run/systemd/transient/",
    "Where systemd keeps the unit files of transient units (each task's nomad-*.service \
     and its own slice); $XDG_RUNTIME_DIR/systemd/transient/ with --bus user.",
);
const DROPIN: (&str, &str) = (
    "/run/systemd/system/UNIT.d/zz-nomad-systemd.conf",
    "The drop-in an installed unit started as a task gets (--unit, or a task file's unit); \
     $XDG_RUNTIME_DIR/systemd/user/UNIT.d/ with --bus user. Removed with the task.",
);
const JOURNAL: (&str, &str) = (
    "/var/log/journal/, /run/log/journal/",
    "The journal, where a task's output goes unless --stdout/--stderr say otherwise.",
);
const CGROUPS: (&str, &str) = (
    "/sys/fs/cgroup/",
    "The control groups a task's CPU, memory, tasks and IO are read from.",
);

/// Every page, the top one first, then the subcommands in `--help`'s order.
pub const PAGES: &[Page] = &[
    Page {
        command: "",
        exit_status: &[
            ("0", "Success."),
            (
                "1",
                "An error, described on stderr with a hint where there is one: systemd \
                 unreachable or refusing, no such task, a task config that is wrong.",
            ),
            USAGE,
            (
                "other",
                "run --wait and exec exit with the status of the task or command they ran \
                 (128+N for a death by signal N).",
            ),
        ],
        environment: &[],
        files: &[TRANSIENT, DROPIN, JOURNAL],
        examples: &[
            (
                "Start a program as a task and list the tasks:",
                "nomad-systemd run -- sleep 600\nnomad-systemd ps",
            ),
            (
                "Follow a task's output, named by job/task:",
                "nomad-systemd logs -f shop/web",
            ),
            (
                "Stop every task of an allocation:",
                "nomad-systemd stop 'nomad-6b78bd0c-*'",
            ),
            (
                "Install bash completion for the current user:",
                "nomad-systemd completion bash \\\n  > ~/.local/share/bash-completion/completions/nomad-systemd",
            ),
        ],
        see_also: &[
            "systemctl(1)",
            "systemd-run(1)",
            "journalctl(1)",
            "systemd.resource-control(5)",
            "nomad(1)",
        ],
        uses_bus: true,
    },
    Page {
        command: "run",
        exit_status: &[
            (
                "0",
                "The task started (its unit name is printed); with --dry-run, the plan was printed and, under --plugin-config, the plugin would accept it.",
            ),
            (
                "1",
                "Nothing started: a wrong task config or task file (the message names the setting), systemd refused or is unreachable; with --dry-run --plugin-config, the plugin would refuse the task (its error is printed).",
            ),
            USAGE,
            (
                "other",
                "With --wait, --pipe or --pty: the task's own exit status; 128+N when a signal N ended it, 137 when the OOM killer did (or a second Ctrl-C killed it).",
            ),
        ],
        environment: &[],
        files: &[
            (
                "/var/lib/nomad-systemd/alloc/ALLOC_ID/",
                "The task directories --task-dir creates (under --alloc-dir-root), bound at /alloc, /local and /secrets.",
            ),
            TRANSIENT,
            DROPIN,
            (
                "/run/userdb/",
                "The user record a task's dynamic workload user gets while it runs.",
            ),
            JOURNAL,
        ],
        examples: &[
            (
                "Run a command, wait for it, and exit with its status (3):",
                "nomad-systemd run --wait -- /bin/sh -c 'echo hello; exit 3'",
            ),
            (
                "Feed the task's stdin and read its stdout directly:",
                "echo input | nomad-systemd run --pipe -- /bin/cat",
            ),
            (
                "A shell as nobody on a terminal of its own:",
                "nomad-systemd run --pty --user nobody -- /bin/sh",
            ),
            (
                "A named task with its task directories, memory and environment:",
                "nomad-systemd run --name web --task-dir --memory 128 \\\n  --env PORT=8080 -- python3 -m http.server 8080",
            ),
            (
                "Run a task written as a Nomad task, and wait for it:",
                "nomad-systemd run --wait --task-dir -f examples/batch.task.hcl",
            ),
            (
                "What the plugin would send, and whether its config allows it:",
                "nomad-systemd run --dry-run --plugin-config plugin.hcl \\\n  -f examples/batch.task.hcl",
            ),
            (
                "Rehearse one task of a whole job file:",
                "nomad-systemd run --dry-run -f examples/web.nomad.hcl \\\n  --task web/server",
            ),
            (
                "Start an installed template unit's instance for a new allocation:",
                "nomad-systemd run --unit 'webserver@.service' \\\n  --env NOMAD_PORT_http=8080",
            ),
        ],
        see_also: &[
            "nomad-systemd-ps(1)",
            "nomad-systemd-logs(1)",
            "nomad-systemd-stop(1)",
            "systemd-run(1)",
            "systemd.exec(5)",
            "systemd.resource-control(5)",
        ],
        uses_bus: true,
    },
    Page {
        command: "ps",
        exit_status: &[
            ("0", "The tasks were listed (none is an empty table)."),
            ("1", "systemd is unreachable or refused."),
            USAGE,
        ],
        environment: &[],
        files: &[TRANSIENT],
        examples: &[
            ("The tasks running now:", "nomad-systemd ps"),
            (
                "Every task, exited ones too, with PID, CPU, memory and uptime:",
                "nomad-systemd ps --all -o wide",
            ),
            (
                "Every field as JSON, ids and names whole:",
                "nomad-systemd ps --no-trunc -o json",
            ),
        ],
        see_also: &["nomad-systemd-stats(1)", "systemctl(1)"],
        uses_bus: true,
    },
    Page {
        command: "status",
        exit_status: &[
            ("0", "The task is running (or starting, or stopping)."),
            (
                "1",
                "Several tasks answer to TASK, or systemd is unreachable or refused.",
            ),
            USAGE,
            (
                "3",
                "The task has exited; its unit is still loaded (an ended task, or one stopped with --keep).",
            ),
            ("4", "No such task."),
        ],
        environment: &[],
        files: &[TRANSIENT, CGROUPS],
        examples: &[
            ("One task in full:", "nomad-systemd status shop/web"),
            (
                "How it ended, as JSON:",
                "nomad-systemd status -o json 6b78bd0c | jq .exit",
            ),
        ],
        see_also: &["nomad-systemd-ps(1)", "systemctl(1)"],
        uses_bus: true,
    },
    Page {
        command: "stats",
        exit_status: &[
            (
                "0",
                "The usage was printed; with --watch, until the task ended (a last line says how) or until interrupted.",
            ),
            (
                "1",
                "No task or several answer to TASK, or systemd is unreachable or refused.",
            ),
            USAGE,
        ],
        environment: &[],
        files: &[CGROUPS],
        examples: &[
            ("A task's usage, once:", "nomad-systemd stats shop/web"),
            (
                "A sample every second, as JSON lines:",
                "nomad-systemd stats --watch -o json 6b78bd0c",
            ),
        ],
        see_also: &["nomad-systemd-ps(1)", "systemd-cgtop(1)"],
        uses_bus: true,
    },
    Page {
        command: "logs",
        exit_status: &[
            (
                "0",
                "The output was printed; a task that has logged nothing (within --since/--until) prints nothing.",
            ),
            (
                "1",
                "No such task, or its output does not go to the journal (the message says where it goes), or --stdout/--stderr for an installed unit whose streams the journal cannot tell apart.",
            ),
            ("2", "A bad option or TIME."),
        ],
        environment: &[],
        files: &[JOURNAL],
        examples: &[
            (
                "Follow a task's output until it exits:",
                "nomad-systemd logs -f shop/web",
            ),
            (
                "Its stderr of the last ten minutes:",
                "nomad-systemd logs --since -10m --stderr 6b78bd0c",
            ),
            (
                "Today's output, with the time of each line:",
                "nomad-systemd logs --since today -t web",
            ),
            (
                "Only stderr's messages, through jq:",
                "nomad-systemd logs -o json web \\\n  | jq -r 'select(.stream == \"stderr\") | .message'",
            ),
        ],
        see_also: &["journalctl(1)", "systemd-journald.service(8)"],
        uses_bus: true,
    },
    Page {
        command: "stop",
        exit_status: &[
            (
                "0",
                "Every task named was stopped (how each ended is printed); with --all, also when the filters matched nothing.",
            ),
            (
                "1",
                "A name matched no task, or a task is not this tool's (nothing was stopped); a task could not be stopped (the others were); --all was not confirmed, or needed --yes without a terminal.",
            ),
            USAGE,
        ],
        environment: &[],
        files: &[TRANSIENT, DROPIN],
        examples: &[
            (
                "Stop one task and remove its unit (and the directories run --task-dir made):",
                "nomad-systemd stop shop/web",
            ),
            (
                "Stop it but keep its directories and unit for a look:",
                "nomad-systemd stop --keep shop/web",
            ),
            (
                "Stop with SIGHUP first, giving it 30 seconds:",
                "nomad-systemd stop --signal HUP --timeout 30 web",
            ),
            (
                "Stop every task of job shop started by hand, without asking:",
                "nomad-systemd stop --all --job shop --yes",
            ),
            (
                "Every task of an allocation, by glob:",
                "nomad-systemd stop 'nomad-6b78*'",
            ),
        ],
        see_also: &[
            "nomad-systemd-ps(1)",
            "nomad-systemd-signal(1)",
            "systemctl(1)",
        ],
        uses_bus: true,
    },
    Page {
        command: "signal",
        exit_status: &[
            ("0", "The signal was sent to the task's main process."),
            (
                "1",
                "No task or several answer to TASK, the task is not this tool's, or systemd refused (a task not running has no main process).",
            ),
            ("2", "A usage error, or SIG is not a signal name or number."),
        ],
        environment: &[],
        files: &[],
        examples: &[
            (
                "Ask a server to reload its configuration:",
                "nomad-systemd signal shop/web SIGHUP",
            ),
            (
                "The same with a short name, by allocation id prefix:",
                "nomad-systemd signal 6b78bd0c hup",
            ),
        ],
        see_also: &["nomad-systemd-stop(1)", "kill(1)", "signal(7)"],
        uses_bus: true,
    },
    Page {
        command: "exec",
        exit_status: &[
            ("0-125", "The command's own exit status."),
            (
                "1",
                "No task or several answer to TASK, the task is not this tool's, or systemd refused.",
            ),
            USAGE,
            (
                "126",
                "The program exists but cannot be executed (a directory, no execute permission, a bad format).",
            ),
            ("127", "There is no such program."),
            (
                "128+N",
                "A signal N ended the command; 130 when Ctrl-C (outside a terminal session) killed it.",
            ),
        ],
        environment: &[],
        files: &[],
        examples: &[
            (
                "A shell inside a task, on a terminal:",
                "nomad-systemd exec shop/web /bin/sh",
            ),
            (
                "One command, its output apart on stdout and stderr:",
                "nomad-systemd exec -T web -- ls -l /local",
            ),
            (
                "As nobody, in /tmp, with a variable set:",
                "nomad-systemd exec -u nobody -w /tmp -e A=1 web env",
            ),
        ],
        see_also: &["nomad-systemd-run(1)", "systemd-run(1)"],
        uses_bus: true,
    },
    Page {
        command: "doctor",
        exit_status: &[
            (
                "0",
                "Nothing found would make a task fail (warnings may have been printed).",
            ),
            (
                "1",
                "Something would: no systemd, an unsupported host, or tasks of some kind refused.",
            ),
            USAGE,
        ],
        environment: &[],
        files: &[
            CGROUPS,
            ("/proc/cgroups", "The cgroup v1 controllers this host has."),
            (
                "/etc/nsswitch.conf",
                "Whether nss-systemd resolves Nomad's dynamic workload users.",
            ),
            (
                "/var/lib/systemd/linger/",
                "Whether the user's manager outlives the user's sessions (--bus user).",
            ),
        ],
        examples: &[
            ("Check this host for the plugin:", "nomad-systemd doctor"),
            (
                "Check the calling user's manager, as JSON:",
                "nomad-systemd doctor --bus user -o json",
            ),
        ],
        see_also: &["systemd(1)", "nss-systemd(8)", "loginctl(1)"],
        uses_bus: true,
    },
    Page {
        command: "plugin",
        exit_status: &[
            ("0", "Nomad asked the plugin to stop."),
            (
                "1",
                "Not started by Nomad (the magic cookie is missing), a plugin protocol or AutoMTLS this plugin does not speak, or its socket could not be opened.",
            ),
        ],
        environment: &[
            (
                "NOMAD_PLUGIN_MAGIC_COOKIE",
                "Set by Nomad's client: the plugin serves only when it is set to Nomad's value.",
            ),
            (
                "PLUGIN_PROTOCOL_VERSIONS",
                "The plugin protocol versions Nomad speaks; this plugin speaks version 2.",
            ),
            (
                "PLUGIN_UNIX_SOCKET_DIR",
                "Where the plugin creates its socket [default: the temporary directory].",
            ),
            (
                "PLUGIN_UNIX_SOCKET_GROUP",
                "A group that may use the socket too (mode 0660 instead of 0600).",
            ),
            (
                "PLUGIN_CLIENT_CERT",
                "Set when Nomad asks for AutoMTLS, which this plugin refuses.",
            ),
            (
                "NOMAD_SYSTEMD_LOG",
                "What the plugin logs to Nomad's agent, as a tracing filter directive [default: warn,nomad_systemd=debug].",
            ),
        ],
        files: &[
            (
                "/etc/nomad.d/*.hcl",
                "The agent's configuration, whose plugin \"nomad-systemd\" { config { ... } } block is the plugin's policy (see README).",
            ),
            TRANSIENT,
            DROPIN,
            (
                "/run/userdb/",
                "The records of Nomad's dynamic workload users.",
            ),
        ],
        examples: &[(
            "The agent's configuration that loads the plugin from its plugin_dir:",
            "plugin \"nomad-systemd\" {\n  config {\n    default_user = \"nobody\"\n  }\n}",
        )],
        see_also: &["nomad(1)", "systemd(1)", "nomad-systemd-doctor(1)"],
        uses_bus: false,
    },
    Page {
        command: "completion",
        exit_status: &[("0", "The script was printed."), USAGE],
        environment: &[
            (
                "PATH",
                "Where the scripts find nomad-systemd, which they run on every TAB.",
            ),
            (
                "_NOMAD_SYSTEMD_COMPLETE",
                "Set by the scripts to ask nomad-systemd for completions instead of running a command; the task names offered come from the bus and slice the command line (or the variables above) select, and none are offered when systemd does not answer within 2 seconds.",
            ),
        ],
        files: &[
            (
                "/usr/share/bash-completion/completions/nomad-systemd",
                "Where bash-completion looks for the bash script; ~/.local/share/bash-completion/completions/ for one user.",
            ),
            (
                "/usr/share/zsh/vendor-completions/_nomad-systemd",
                "A directory on zsh's $fpath, for the zsh script.",
            ),
            (
                "/usr/share/fish/vendor_completions.d/nomad-systemd.fish",
                "Where fish looks for the fish script; ~/.config/fish/completions/ for one user.",
            ),
        ],
        examples: &[
            (
                "Complete in the current bash:",
                "source <(nomad-systemd completion bash)",
            ),
            (
                "Install for one user's fish:",
                "nomad-systemd completion fish \\\n  > ~/.config/fish/completions/nomad-systemd.fish",
            ),
        ],
        see_also: &["bash(1)", "zsh(1)", "fish(1)"],
        uses_bus: true,
    },
];

/// The page for `command` ("" for the top one).
pub fn page(command: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.command == command)
}

/// The variables `page` documents: the CLI's own first when the command talks to systemd.
pub fn environment(page: &Page) -> Vec<(&'static str, &'static str)> {
    let common = if page.uses_bus { CLI_ENVIRONMENT } else { &[] };
    common.iter().chain(page.environment).copied().collect()
}

/// The paths `page` documents, the bus sockets last when the command talks to systemd.
pub fn files(page: &Page) -> Vec<(&'static str, &'static str)> {
    let common = if page.uses_bus { BUS_FILES } else { &[] };
    page.files.iter().chain(common).copied().collect()
}

/// The text `--help` shows after the options: for the top command how tasks are named, for
/// every command its exit statuses and examples. Plain text, indented as clap's help is.
pub fn after_help(page: &Page) -> String {
    let mut text = String::new();
    if page.command.is_empty() {
        text.push_str(&format!("Naming tasks:\n  {}\n", wrap(TASK_NAMES_INTRO, 2)));
        let width = TASK_NAMES
            .iter()
            .map(|(form, _)| form.len())
            .max()
            .unwrap_or(0);
        for (form, example) in TASK_NAMES {
            text.push_str(&format!("    {form:width$}  {example}\n"));
        }
        text.push_str(&format!("  {}\n\n", wrap(TASK_NAMES_OUTRO, 2)));
    }
    text.push_str("Exit status:\n");
    let width = page
        .exit_status
        .iter()
        .map(|(s, _)| s.len())
        .max()
        .unwrap_or(0);
    for (status, when) in page.exit_status {
        text.push_str(&format!("  {status:width$}  {}\n", wrap(when, width + 4)));
    }
    text.push_str("\nExamples:\n");
    for (what, line) in page.examples {
        text.push_str(&format!("  # {what}\n  {}\n", line.replace('\n', "\n  ")));
    }
    text.trim_end().to_string()
}

/// `text` wrapped at 80 columns, continuation lines indented by `indent`.
fn wrap(text: &str, indent: usize) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && indent + line.len() + 1 + word.len() > 80 {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join(&format!("\n{}", " ".repeat(indent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_says_every_part() {
        for page in PAGES {
            let name = if page.command.is_empty() {
                "top"
            } else {
                page.command
            };
            assert!(!page.exit_status.is_empty(), "{name}: exit status");
            assert!(!environment(page).is_empty(), "{name}: environment");
            assert!(!files(page).is_empty(), "{name}: files");
            assert!(!page.examples.is_empty(), "{name}: examples");
            assert!(!page.see_also.is_empty(), "{name}: see also");
        }
    }

    /// The exit statuses and examples are written here only: a command's clap definition
    /// carrying its own after-help text would say them twice, or differently.
    #[test]
    fn every_command_has_a_page_and_none_its_own_after_help() {
        use clap::CommandFactory;
        let cli = super::super::Cli::command();
        assert!(cli.get_after_help().is_none() && cli.get_after_long_help().is_none());
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = sub.get_name();
            assert!(
                page(name).is_some(),
                "src/cli/pages.rs has no page for {name}"
            );
            assert!(
                sub.get_after_help().is_none() && sub.get_after_long_help().is_none(),
                "{name} sets its own after-help text; put it in src/cli/pages.rs"
            );
        }
        for p in PAGES.iter().filter(|p| !p.command.is_empty()) {
            assert!(
                cli.find_subcommand(p.command).is_some(),
                "page for no command: {}",
                p.command
            );
        }
    }

    #[test]
    fn help_text_lines_fit_80_columns() {
        for page in PAGES {
            for line in after_help(page).lines() {
                assert!(line.chars().count() <= 80, "{line}");
            }
        }
    }
}
