//! facewatch: find the faces in generated images and rank them by distance to a set of
//! reference photos, with YuNet and SFace on ONNX Runtime.
//!
//! The library contains everything; `main.rs` only parses arguments and maps errors to an
//! exit code.

pub mod cli;
pub mod config;
pub mod doctor;
pub mod logging;
pub mod models;
pub mod overlay;
pub mod pipeline;
pub mod ranking;
pub mod record;
pub mod references;
pub mod runtime;
pub mod scan;
pub mod score;
pub mod settings;
pub mod watch;

use cli::{Cli, Command};

/// Runs one command.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Scan(args) => {
            logging::init_stderr();
            scan::run(cli, args)
        }
        Command::Watch(args) => watch::run(cli, args),
        Command::Doctor => {
            logging::init_stderr();
            doctor::run(cli)
        }
    }
}
