use std::process::ExitCode;

fn main() -> ExitCode {
    nomad_systemd::cli::main()
}
