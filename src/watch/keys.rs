//! Key bindings: which key does what, and the text of the help overlay.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A user command, independent of the key that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    CloseHelp,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    ThresholdUp,
    ThresholdDown,
    ThresholdReset,
    BestUp,
    BestDown,
    BestOff,
    CycleMetric,
    ToggleHide,
    TogglePreview,
    SaveSelected,
    SavePassing,
    TogglePause,
    Export,
}

/// Keys and what they do, in the order the help overlay lists them.
pub const HELP: [(&str, &str); 16] = [
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn", "move one page"),
    ("g G  Home End", "first / last row"),
    (
        "+ -",
        "raise / lower the threshold (2% of the model's value)",
    ),
    ("0 =", "reset the threshold to the model's value"),
    ("] [", "raise / lower best-N (0 = off)"),
    ("b", "turn best-N off"),
    ("m", "next metric (re-scores from stored embeddings)"),
    ("h", "hide / show rows that do not pass"),
    ("p Enter", "show / hide the preview pane"),
    ("s", "save the selected row's overlay PNG"),
    ("S", "save overlays of all passing rows"),
    ("space", "pause / resume scoring new files"),
    ("e", "write the table to the --export file (JSON lines)"),
    ("?", "show this help"),
    ("q  Ctrl-C", "quit"),
];

/// The one-line hint under the table, short enough for 80 columns.
pub const HINT: &str = "q quit ? help +/- threshold [/] best-N m metric h hide p preview s/S save";

/// Maps a key press to its action. Releases and unbound keys map to `None`.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Action::Quit),
            _ => None,
        };
    }
    match key.code {
        KeyCode::Char(character) => action_for_char(character),
        KeyCode::Up => Some(Action::Up),
        KeyCode::Down => Some(Action::Down),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown => Some(Action::PageDown),
        KeyCode::Home => Some(Action::First),
        KeyCode::End => Some(Action::Last),
        KeyCode::Enter => Some(Action::TogglePreview),
        KeyCode::Esc => Some(Action::CloseHelp),
        _ => None,
    }
}

fn action_for_char(character: char) -> Option<Action> {
    let action = match character {
        'q' => Action::Quit,
        '?' => Action::ToggleHelp,
        'k' => Action::Up,
        'j' => Action::Down,
        'g' => Action::First,
        'G' => Action::Last,
        '+' => Action::ThresholdUp,
        '-' => Action::ThresholdDown,
        '0' | '=' => Action::ThresholdReset,
        ']' => Action::BestUp,
        '[' => Action::BestDown,
        'b' => Action::BestOff,
        'm' => Action::CycleMetric,
        'h' => Action::ToggleHide,
        'p' => Action::TogglePreview,
        's' => Action::SaveSelected,
        'S' => Action::SavePassing,
        ' ' => Action::TogglePause,
        'e' => Action::Export,
        _ => return None,
    };
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn ctrl_c_quits() {
        let key = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&key), Some(Action::Quit));
    }

    #[test]
    fn plain_c_is_unbound() {
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn shifted_s_saves_all() {
        let key = press(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(action_for(&key), Some(Action::SavePassing));
    }

    #[test]
    fn release_is_ignored() {
        let mut key = press(KeyCode::Char('q'), KeyModifiers::NONE);
        key.kind = KeyEventKind::Release;
        assert_eq!(action_for(&key), None);
    }
}
