use std::process::ExitCode;

/// Nomad starts plugins with no arguments, so a bare launch carrying Nomad's magic cookie is
/// the plugin; everything else is the CLI (whose `plugin` command is the same entry point).
fn main() -> ExitCode {
    if nomad_systemd::core::env_loader::invoked() {
        return nomad_systemd::core::env_loader::main();
    }
    if std::env::args_os().len() == 1 && nomad_systemd::plugin::launched_by_nomad() {
        return nomad_systemd::plugin::main();
    }
    nomad_systemd::cli::main()
}
