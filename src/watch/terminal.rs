//! The terminal: raw mode and the alternate screen while the dashboard runs, restored
//! on every way out (return, error, panic, signal), and the input and signal threads.

use std::io::Stdout;
use std::sync::mpsc::Sender;
use std::time::Instant;

use crossterm::event::Event as TerminalEvent;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::app::App;
use super::event::Event;
use super::preview::Preview;
use super::ui;

/// Owns the terminal in dashboard mode and restores it when dropped.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Switches to raw mode and the alternate screen, and installs a panic hook that
    /// restores the terminal before the panic message prints.
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        install_panic_hook();
        crossterm::terminal::enable_raw_mode()?;
        let mut stdout = std::io::stdout();
        if let Err(err) = execute!(stdout, EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(err.into());
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(err) => {
                restore();
                Err(err.into())
            }
        }
    }

    pub fn draw(
        &mut self,
        app: &App,
        preview: &mut Preview,
        title: &ui::PreviewTitle,
        now: Instant,
    ) -> std::io::Result<()> {
        self.terminal
            .draw(|frame| ui::draw(frame, app, preview, title, now))?;
        Ok(())
    }

    pub fn clear(&mut self) -> std::io::Result<()> {
        self.terminal.clear()
    }

    pub fn height(&self) -> std::io::Result<u16> {
        Ok(self.terminal.size()?.height)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode and shows the cursor. Errors are ignored
/// because there is nothing left to report them on.
fn restore() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// Turns SIGTERM, SIGHUP and SIGINT into [`Event::Quit`], so the terminal is restored
/// on the normal path.
pub fn spawn_signal_thread(sender: Sender<Event>) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            for signal in signals.forever() {
                tracing::info!(signal, "signal received, quitting");
                if sender.send(Event::Quit).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Reads keys and resizes from the terminal until the UI thread goes away.
pub fn spawn_input_thread(sender: Sender<Event>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("input".to_string())
        .spawn(move || {
            loop {
                let event = match crossterm::event::read() {
                    Ok(TerminalEvent::Key(key)) => Event::Key(key),
                    Ok(TerminalEvent::Resize(..)) => Event::Resize,
                    Ok(_) => continue,
                    Err(err) => {
                        tracing::error!("reading the terminal failed: {err}");
                        return;
                    }
                };
                if sender.send(event).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}
