use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = facewatch::cli::Cli::parse();
    match facewatch::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facewatch: {err:#}");
            ExitCode::from(2)
        }
    }
}
