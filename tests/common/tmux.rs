//! Driving `facewatch watch` in a real terminal: a tmux server of its own per test
//! (`tmux -L facewatch-test-<pid>-<name>`), capture-pane polling with a deadline,
//! and an `EXITED <code>` line printed by the pane's shell when facewatch ends.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Maximum wait for one screen state. The first one includes loading the models.
pub const DEADLINE: Duration = Duration::from_secs(90);

pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn screen(&self) -> String {
        let output = self.run(&["capture-pane", "-p", "-t", "watch"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "watch"];
        args.extend_from_slice(keys);
        let output = self.run(&args);
        assert!(
            output.status.success(),
            "send-keys {keys:?} failed: {output:?}"
        );
    }

    /// Polls the pane until `check` accepts it and two captures 150 ms apart are
    /// equal, and returns that screen. The second capture guards against a capture
    /// taken while the dashboard is halfway through writing a frame.
    pub fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.wait_for_within(what, DEADLINE, check)
    }

    pub fn wait_for_within(
        &self,
        what: &str,
        deadline: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                std::thread::sleep(Duration::from_millis(150));
                if self.screen() == screen {
                    return screen;
                }
            }
            assert!(
                started.elapsed() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// True when the pane shows the alternate screen (the dashboard's).
    pub fn alternate_on(&self) -> bool {
        let output = self.run(&["display-message", "-p", "-t", "watch", "#{alternate_on}"]);
        String::from_utf8_lossy(&output.stdout).trim() == "1"
    }

    /// Returns the pid of the dashboard: the only child of the pane's shell.
    pub fn dashboard_pid(&self) -> u32 {
        let output = self.run(&["display-message", "-p", "-t", "watch", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .expect("read the pane shell's children");
        let pids: Vec<u32> = children
            .split_whitespace()
            .map(|pid| pid.parse().expect("numeric pid"))
            .collect();
        assert_eq!(
            pids.len(),
            1,
            "the pane shell should run one command: {pids:?}"
        );
        pids[0]
    }

    /// Sends `signal` (such as "TERM") to the dashboard.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.dashboard_pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

pub fn tmux_installed() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success())
}

pub fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Starts `facewatch watch <folder> --reference tests/photos/reference <extra>` in a
/// new 120x40 tmux server named after this process and `name`, with its log under
/// `state`.
pub fn start(name: &str, folder: &Path, state: &Path, extra: &[&str]) -> Tmux {
    let tmux = Tmux {
        socket: format!("facewatch-test-{}-{name}", std::process::id()),
    };
    let extra: Vec<String> = extra
        .iter()
        .map(|arg| shell_quote(Path::new(arg)))
        .collect();
    let command = format!(
        "cd {repo} && XDG_STATE_HOME={state} FACEWATCH_GRAPHICS=halfblocks {exe} watch {folder} \
         --reference tests/photos/reference {extra}; echo EXITED $?; exec sleep 600",
        repo = shell_quote(&super::repo()),
        state = shell_quote(state),
        exe = shell_quote(Path::new(env!("CARGO_BIN_EXE_facewatch"))),
        folder = shell_quote(folder),
        extra = extra.join(" "),
    );
    let output = tmux.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "watch",
        "-x",
        "120",
        "-y",
        "40",
        "sh",
        "-c",
        &command,
    ]);
    assert!(
        output.status.success(),
        "tmux new-session failed: {output:?}"
    );
    tmux
}
