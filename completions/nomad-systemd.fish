# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nomad_systemd_global_optspecs
    string join \n bus= slice= h/help V/version
end

function __fish_nomad_systemd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nomad_systemd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nomad_systemd_using_subcommand
    set -l cmd (__fish_nomad_systemd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -s V -l version -d 'Print version'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "run" -d 'Start a task as a transient unit and print its unit name'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "ps" -d 'List task units'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "stats" -d 'Show a task\'s resource usage'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "logs" -d 'Print a task\'s output from the journal'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "stop" -d 'Stop tasks and remove their units, printing how each ended'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "signal" -d 'Send a signal to a task\'s main process without stopping it'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "exec" -d 'Run a command inside a running task: its user, environment, directories and slice'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "doctor" -d 'Show what the plugin\'s fingerprint sees on this host, and what to change'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "plugin" -d 'Serve the Nomad task-driver plugin protocol (Nomad\'s client starts this itself)'
complete -c nomad-systemd -n "__fish_nomad_systemd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -s f -l file -d 'Read the task from a file written like a Nomad task (HCL, or TOML if it ends in .toml), checked as the plugin checks a job; options given here override it' -r -F
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l task -d 'With -f and a whole job file: the task to run, as GROUP/TASK, or TASK when only one group has it [default: the job\'s only task]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l unit -d 'Start this installed unit instead of a program, as a job\'s `unit` does: Nomad\'s environment and resources in a runtime drop-in, Restart=no; a template (name@.service) runs as its instance for the allocation id. Refused if the unit is already running' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l unit-instance -d 'The instance string for a template --unit [default: the allocation id]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l command -d 'The program to run (instead of giving it after `--`)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l arg -d 'An argument for --command; repeat for more' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l name -d 'Task name [default: the program\'s file name]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l alloc-id -d 'Allocation id [default: a new UUID]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l job -d 'Job name [default: the task name]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l task-group -d 'Task group name [default: the task name]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -s e -l env -d 'Set an environment variable; repeat for more' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l user -d 'Run as this user' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l group -d 'Run with this primary group' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l workdir -d 'Working directory inside the unit [default: /local with --task-dir]' -r -F
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l cpu -d 'CPU in MHz, as Nomad\'s resources.cpu (sets the CPU weight)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l cores -d 'Reserved cores as a cpuset list, e.g. 0-1,3; each must be online on this host' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l memory -d 'Memory, as Nomad\'s resources.memory: MiB, or with a unit (512M, 1G, 1.5G)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l memory-max -d 'Hard memory limit above --memory, as Nomad\'s memory_max: MiB or with a unit; -1 for none' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l oom-score-adjust -d 'The OOM killer\'s bias for the task, -1000 (never kill) to 1000 (kill first)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l kill-signal -d 'Signal a stop sends first [default: SIGTERM; SIGINT, as Nomad, for a job file]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l kill-timeout -d 'How long a stop waits before SIGKILL: seconds, or e.g. 500ms, 1m [default: 5s, as Nomad]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l alloc-dir-root -d 'Where --task-dir creates <alloc-id>/ directories' -r -F
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l stdout -d 'Append the task\'s stdout to this file or write it into this FIFO [default: journal]' -r -F
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l stderr -d 'Append the task\'s stderr to this file or write it into this FIFO [default: journal]' -r -F
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l plugin-config -d 'With --dry-run: judge the task as the plugin would under this plugin config (the agent\'s `config` block for the plugin, in HCL, or JSON/TOML by extension), with the plugin\'s own errors; exits non-zero if the plugin would refuse it' -r -F
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -s o -l output -d 'With --dry-run: print as a table or as JSON' -r -f -a "table\t''
json\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l task-dir -d 'Create Nomad\'s task directories and bind them at /alloc, /local and /secrets'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l wait -d 'Wait for the task to exit, remove its unit, and exit with the task\'s exit status. On a terminal, the task\'s output is shown as it runs (followed from the journal, where it stays). Ctrl-C stops the task with its kill signal and SIGKILL after its kill timeout; a second Ctrl-C kills it at once'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l pipe -d 'Give the task this command\'s own stdin, stdout and stderr, as `systemd-run --pipe` does: it reads what is piped in and writes where this command\'s output goes, not to the journal. Implies --wait'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l pty -d 'Give the task a new pseudo-terminal of this terminal\'s size, relayed to this command\'s stdin and stdout, as `systemd-run --pty` does: keys, Ctrl-C included, go to the task. Implies --wait'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -l dry-run -d 'Start nothing: print the unit, its properties, its slice\'s and its drop-in exactly as they would be sent to systemd, and what the start would do first. Creates no unit, file, directory or user record'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand run" -s h -l help -d 'Print help'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -s o -l output -d '`table`; `wide` adds each task\'s main PID, CPU time, memory and uptime (reads every unit); `json` prints every field, `null` where a value is unknown or absent' -r -f -a "table\t''
wide\t''
json\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -s a -l all -d 'Include tasks that have exited'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -s l -l long -d 'The same as `-o wide`'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -l no-trunc -d 'Show full allocation ids and unit names, however wide the table gets'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand ps" -s h -l help -d 'Print help'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stats" -s o -l output -r -f -a "table\t''
json\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stats" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stats" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stats" -s w -l watch -d 'Print a new sample every second until interrupted, with CPU as a percentage of a core'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stats" -s h -l help -d 'Print help'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s n -l lines -d 'Only the last N lines' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s S -l since -d 'Only output logged at or after TIME: `YYYY-MM-DD [HH:MM[:SS]]`, `HH:MM[:SS]` (local time; ` UTC` or `Z` appended for UTC), `now`, `today`, `yesterday`, `-5m`, `+1h`, `\'5min ago\'` or `@SECONDS`, as journalctl spells them' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s U -l until -d 'Only output logged at or before TIME (forms as for --since)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s o -l output -d '`cat`: the lines as written; `json`: one object per line on stdout with `time`, `stream` (`stdout`, `stderr`, or null when the journal cannot tell), `message` and `unit`' -r -f -a "cat\t''
json\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s f -l follow -d 'Keep printing new output until the task has exited (or Ctrl-C)'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -l stdout -d 'Only the task\'s stdout'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -l stderr -d 'Only the task\'s stderr'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s t -l timestamps -d 'Prefix each line with the time journald received it (RFC 3339, UTC, µs)'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l job -d 'With --all: only the tasks of this job (its exact name)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l alloc -d 'With --all: only the tasks of allocations whose id starts so (2+ characters)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l task -d 'With --all: only the tasks of this name (exact)' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -s s -l signal -d 'Signal to send first [default: the task\'s kill signal]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -s t -l timeout -d 'How long to wait before SIGKILL: seconds, or e.g. 500ms [default: the task\'s kill timeout]' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -s o -l output -r -f -a "table\t''
json\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l all -d 'Stop every task the filters select (in --slice when given); tasks started by Nomad only with --include-nomad. Lists them and asks first on a terminal'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l include-nomad -d 'With --all: also stop the tasks Nomad\'s plugin started (Nomad then sees them fail and reschedules them). Without it --all takes only the tasks `nomad-systemd run` started'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -s y -l yes -d 'Do not ask before stopping what --all selected; needed when stdin is not a terminal'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -l keep -d 'Leave the stopped unit loaded, so `ps --all` still shows it'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand stop" -s h -l help -d 'Print help'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand signal" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand signal" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand signal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand exec" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand exec" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand exec" -s t -l tty -d 'Give the command a terminal [default: when stdin is one]'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand exec" -s T -l no-tty -d 'Never give the command a terminal: stdout and stderr stay apart'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand exec" -s h -l help -d 'Print help'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand doctor" -s o -l output -d 'A table for people, or JSON (the facts, the findings and the health) for programs' -r -f -a "table\t''
json\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand doctor" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand doctor" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand plugin" -l bus -d 'Which service manager runs the tasks' -r -f -a "system\t''
user\t''"
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand plugin" -l slice -d 'The slice task units are placed in [default: system-nomad.slice, or app-nomad.slice with --bus user]. Given, ps and task names see only the tasks in it; otherwise every task on the bus' -r
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand plugin" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "run" -d 'Start a task as a transient unit and print its unit name'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "ps" -d 'List task units'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "stats" -d 'Show a task\'s resource usage'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "logs" -d 'Print a task\'s output from the journal'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "stop" -d 'Stop tasks and remove their units, printing how each ended'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "signal" -d 'Send a signal to a task\'s main process without stopping it'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "exec" -d 'Run a command inside a running task: its user, environment, directories and slice'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "doctor" -d 'Show what the plugin\'s fingerprint sees on this host, and what to change'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "plugin" -d 'Serve the Nomad task-driver plugin protocol (Nomad\'s client starts this itself)'
complete -c nomad-systemd -n "__fish_nomad_systemd_using_subcommand help; and not __fish_seen_subcommand_from run ps stats logs stop signal exec doctor plugin help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
