//! Image preview pane for the terminal UI.
//!
//! [`Preview`] draws one image into a [`Rect`] of a ratatui [`Frame`] with the
//! `ratatui-image` 8.1 widgets. It starts in half-block mode (`▀`/`▄` cells with
//! 24-bit foreground and background colours), which needs no terminal query.
//! It switches to the kitty, sixel or iTerm2 graphics protocol when
//! `FACEWATCH_GRAPHICS` names one, or when a background probe started with
//! [`Preview::start_detection`] reports one.
//!
//! Typical use in the event loop:
//!
//! ```ignore
//! let mut preview = Preview::new(GraphicsSetting::from_env()?);
//! terminal.draw(|frame| ui(frame, &mut preview))?; // first frame, half-blocks
//! preview.start_detection(); // no-op unless the setting is `auto`
//! loop {
//!     if preview.poll_detection() {
//!         terminal.clear()?; // drop anything the probe echoed
//!     }
//!     terminal.draw(|frame| ui(frame, &mut preview))?;
//!     if preview.is_detecting() {
//!         std::thread::sleep(Duration::from_millis(10)); // the probe owns stdin
//!         continue;
//!     }
//!     // crossterm::event::poll / read as usual
//! }
//! ```

use std::env;
use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;

use image::{DynamicImage, RgbImage, Rgba};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Clear;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::halfblocks::Halfblocks;
use ratatui_image::protocol::{ImageSource, StatefulProtocol, StatefulProtocolType};
use ratatui_image::{FontSize, Resize, StatefulImage};

/// Environment variable that overrides protocol detection.
///
/// Accepted values: `auto` (the default when unset or empty), `halfblocks`,
/// `kitty`, `sixel` and `iterm2`, in any letter case.
pub const GRAPHICS_ENV_VAR: &str = "FACEWATCH_GRAPHICS";

/// Cell size in pixels assumed when the terminal does not report one.
///
/// Half-blocks only depend on the 1:2 ratio. The graphics protocols use it to
/// size the image in pixels, so a wrong value there makes the image smaller
/// or larger than the pane.
const FALLBACK_FONT_SIZE: FontSize = (10, 20);

/// Transparent black, the background `ratatui-image` pads fitted images with.
const PADDING_COLOR: Rgba<u8> = Rgba([0, 0, 0, 0]);

/// Requested graphics protocol, usually read from [`GRAPHICS_ENV_VAR`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GraphicsSetting {
    /// Start with half-blocks and let [`Preview::start_detection`] query the terminal.
    Auto,
    /// Use this protocol and never query the terminal.
    Fixed(ProtocolType),
}

/// Error for a [`GRAPHICS_ENV_VAR`] value that names no known protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid graphics protocol {value:?}: expected one of auto, halfblocks, kitty, sixel, iterm2"
)]
pub struct InvalidGraphicsSetting {
    /// The rejected value as given.
    pub value: String,
}

impl FromStr for GraphicsSetting {
    type Err = InvalidGraphicsSetting;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "halfblocks" => Ok(Self::Fixed(ProtocolType::Halfblocks)),
            "kitty" => Ok(Self::Fixed(ProtocolType::Kitty)),
            "sixel" => Ok(Self::Fixed(ProtocolType::Sixel)),
            "iterm2" => Ok(Self::Fixed(ProtocolType::Iterm2)),
            _ => Err(InvalidGraphicsSetting {
                value: value.to_owned(),
            }),
        }
    }
}

impl GraphicsSetting {
    /// Reads [`GRAPHICS_ENV_VAR`], returning [`GraphicsSetting::Auto`] when it is unset.
    ///
    /// # Errors
    ///
    /// Returns [`InvalidGraphicsSetting`] when the value names no known protocol
    /// or is not valid Unicode.
    pub fn from_env() -> Result<Self, InvalidGraphicsSetting> {
        match env::var(GRAPHICS_ENV_VAR) {
            Ok(value) => value.parse(),
            Err(env::VarError::NotPresent) => Ok(Self::Auto),
            Err(env::VarError::NotUnicode(value)) => Err(InvalidGraphicsSetting {
                value: value.to_string_lossy().into_owned(),
            }),
        }
    }
}

/// Image currently on show together with its encoded, pane-sized form.
struct ShownImage {
    /// Source pixels, kept so that a protocol change can re-encode them.
    source: DynamicImage,
    /// Encoding state that `StatefulImage` resizes when the pane size changes.
    state: StatefulProtocol,
}

/// Preview pane that draws one image, or nothing, into a frame area.
///
/// Creating it never touches the terminal. Ratatui starts every frame from a
/// blank buffer, so after an image change the cells the new image does not
/// cover are blank, and ratatui's diff sends them to the terminal.
pub struct Preview {
    /// Picker for kitty, sixel or iTerm2. `None` means half-blocks.
    picker: Option<Picker>,
    /// Whether [`Preview::start_detection`] may query the terminal.
    setting: GraphicsSetting,
    /// Result channel of a running probe thread.
    detection: Option<Receiver<Picker>>,
    /// Image on show. `None` renders a blank pane.
    current_image: Option<ShownImage>,
}

impl Preview {
    /// Creates a preview pane without querying the terminal.
    ///
    /// With [`GraphicsSetting::Auto`] or a fixed `halfblocks` it draws
    /// half-blocks. With a fixed graphics protocol it takes the cell size from
    /// the window size in pixels that the kernel reports (`TIOCGWINSZ`), or
    /// [`FALLBACK_FONT_SIZE`] when that is zero.
    ///
    /// NOTE: inside tmux, `ratatui-image` 8.1 runs `tmux set -p allow-passthrough on`
    /// when it builds a picker for a fixed graphics protocol, and waits for that
    /// command to exit.
    pub fn new(setting: GraphicsSetting) -> Self {
        let picker = match setting {
            GraphicsSetting::Auto | GraphicsSetting::Fixed(ProtocolType::Halfblocks) => None,
            GraphicsSetting::Fixed(protocol) => {
                let mut picker = Picker::from_fontsize(font_size_from_window());
                picker.set_protocol_type(protocol);
                Some(picker)
            }
        };

        Self {
            picker,
            setting,
            detection: None,
            current_image: None,
        }
    }

    /// Returns the protocol that the next render uses.
    pub fn protocol(&self) -> ProtocolType {
        self.picker
            .as_ref()
            .map_or(ProtocolType::Halfblocks, Picker::protocol_type)
    }

    /// Starts a background query of the terminal's graphics support.
    ///
    /// Does nothing unless the setting is [`GraphicsSetting::Auto`], stdin and
    /// stdout are terminals, the session is not inside tmux, the environment names
    /// a graphics terminal (see [`names_graphics_terminal`]), and no probe is
    /// running. Call it after the first frame is drawn, with raw mode on, and
    /// read no terminal input while [`Preview::is_detecting`] is true: the probe
    /// reads the terminal's replies from stdin, so a concurrent
    /// `crossterm::event::read` would take them.
    ///
    /// Inside tmux, `ratatui-image` 8.1 wraps the query in tmux passthrough, so
    /// only the outer terminal can reply to it. With a detached client or an
    /// outer terminal that does not reply, the query times out, which is why
    /// tmux sessions keep half-blocks unless [`GRAPHICS_ENV_VAR`] is set.
    ///
    /// NOTE: `ratatui-image` 8.1 gives up after 1 s but leaves its stdin reader
    /// thread running. On a terminal that never replies to the device status
    /// report query (`ESC [ 5 n`), that thread keeps consuming input bytes for
    /// the rest of the process, so most key presses are lost.
    pub fn start_detection(&mut self) {
        let may_probe = self.setting == GraphicsSetting::Auto
            && self.detection.is_none()
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal()
            && !is_inside_tmux()
            && !is_dumb_terminal()
            && names_graphics_terminal();
        if !may_probe {
            return;
        }

        let (sender, receiver) = mpsc::channel();
        let spawned = thread::Builder::new()
            .name("graphics-probe".to_owned())
            .spawn(move || {
                // An error means stdin could not be put into raw mode, so the
                // pane keeps half-blocks.
                if let Ok(picker) = Picker::from_query_stdio() {
                    // The receiver is gone only when the preview was dropped.
                    let _ = sender.send(picker);
                }
            });
        if spawned.is_ok() {
            self.detection = Some(receiver);
        }
    }

    /// Returns whether a probe started by [`Preview::start_detection`] is still running.
    pub fn is_detecting(&self) -> bool {
        self.detection.is_some()
    }

    /// Applies the probe result if it has arrived, without waiting.
    ///
    /// Returns `true` when the protocol changed. The caller should then call
    /// `Terminal::clear`, because the probe wrote its query past ratatui's
    /// buffer and a terminal that does not parse part of it prints that part.
    pub fn poll_detection(&mut self) -> bool {
        let Some(receiver) = &self.detection else {
            return false;
        };

        let picker = match receiver.try_recv() {
            Ok(picker) => picker,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => {
                self.detection = None;
                return false;
            }
        };
        self.detection = None;

        let protocol = picker.protocol_type();
        if protocol == ProtocolType::Halfblocks {
            return false;
        }
        self.picker = Some(picker);
        if let Some(current) = self.current_image.take() {
            self.replace_image(current.source);
        }
        true
    }

    /// Replaces the shown image, or removes it when `image` is `None`.
    ///
    /// Encoding for the pane size happens lazily on the next
    /// [`Preview::render`], so calling this for every selection change is cheap
    /// apart from one copy of the pixels.
    pub fn set_image(&mut self, image: Option<RgbImage>) {
        match image {
            Some(image) => self.replace_image(DynamicImage::ImageRgb8(image)),
            None => self.current_image = None,
        }
    }

    /// Returns whether an image is set.
    pub fn has_image(&self) -> bool {
        self.current_image.is_some()
    }

    /// Draws the image scaled to fit `area`, keeping its aspect ratio.
    ///
    /// Every cell of `area` is reset first, so widgets rendered there earlier in
    /// the same frame do not show around the image. The first render after
    /// [`Preview::set_image`] or after a size change of `area` re-encodes the
    /// image.
    pub fn render(&mut self, frame: &mut Frame<'_>, area: Rect) {
        frame.render_widget(Clear, area);
        if let Some(current) = &mut self.current_image {
            // `Scale` also enlarges images smaller than the pane, such as face crops.
            let widget = StatefulImage::default().resize(Resize::Scale(None));
            frame.render_stateful_widget(widget, area, &mut current.state);
        }
    }

    fn replace_image(&mut self, source: DynamicImage) {
        let state = match &self.picker {
            Some(picker) => picker.new_resize_protocol(source.clone()),
            None => {
                let image_source =
                    ImageSource::new(source.clone(), FALLBACK_FONT_SIZE, PADDING_COLOR);
                StatefulProtocol::new(
                    image_source,
                    FALLBACK_FONT_SIZE,
                    StatefulProtocolType::Halfblocks(Halfblocks::default()),
                )
            }
        };
        self.current_image = Some(ShownImage { source, state });
    }
}

/// Returns whether `ratatui-image` 8.1 would treat the terminal as tmux.
///
/// It checks the same variables, `TERM` starting with `tmux` or
/// `TERM_PROGRAM=tmux`, because those decide whether it wraps the query.
fn is_inside_tmux() -> bool {
    let term_is_tmux = env::var("TERM").is_ok_and(|term| term.starts_with("tmux"));
    let program_is_tmux = env::var("TERM_PROGRAM").is_ok_and(|program| program == "tmux");
    term_is_tmux || program_is_tmux
}

/// Returns whether the environment names a terminal known to support a graphics
/// protocol and to reply to the probe: kitty, WezTerm, iTerm2, Ghostty, foot or
/// mlterm.
///
/// Other terminals keep half-blocks without a probe, because a terminal that never
/// replies makes `ratatui-image` 8.1 take key presses for the rest of the session.
fn names_graphics_terminal() -> bool {
    const TERMS: [&str; 5] = ["kitty", "wezterm", "ghostty", "foot", "mlterm"];
    const PROGRAMS: [&str; 3] = ["iTerm.app", "WezTerm", "ghostty"];
    let term = env::var("TERM").unwrap_or_default();
    let program = env::var("TERM_PROGRAM").unwrap_or_default();
    env::var_os("KITTY_WINDOW_ID").is_some()
        || TERMS.iter().any(|name| term.contains(name))
        || PROGRAMS.contains(&program.as_str())
}

/// Returns whether `TERM` is unset, empty or `dumb`, where no reply is expected.
fn is_dumb_terminal() -> bool {
    env::var("TERM").map_or(true, |term| term.is_empty() || term == "dumb")
}

/// Returns the terminal cell size in pixels, or [`FALLBACK_FONT_SIZE`] when unknown.
fn font_size_from_window() -> FontSize {
    let Ok(size) = crossterm::terminal::window_size() else {
        return FALLBACK_FONT_SIZE;
    };
    if size.columns == 0 || size.rows == 0 || size.width == 0 || size.height == 0 {
        return FALLBACK_FONT_SIZE;
    }
    (size.width / size.columns, size.height / size.rows)
}

#[cfg(test)]
mod tests {
    use image::Rgb;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::style::Color;

    use super::*;

    const PANE: Rect = Rect::new(10, 2, 50, 20);

    fn filled(width: u32, height: u32, color: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(width, height, Rgb(color))
    }

    fn draw(terminal: &mut Terminal<TestBackend>, preview: &mut Preview) {
        terminal
            .draw(|frame| preview.render(frame, PANE))
            .expect("TestBackend draw cannot fail");
    }

    /// Counts cells inside `area` whose foreground or background is the given colour.
    fn cells_with_color(buffer: &Buffer, area: Rect, color: Color) -> usize {
        area.positions()
            .filter_map(|position| buffer.cell(position))
            .filter(|cell| cell.fg == color || cell.bg == color)
            .count()
    }

    fn rgb(color: [u8; 3]) -> Color {
        Color::Rgb(color[0], color[1], color[2])
    }

    #[test]
    fn setting_parses_known_names() {
        let cases = [
            ("", GraphicsSetting::Auto),
            ("auto", GraphicsSetting::Auto),
            (
                "halfblocks",
                GraphicsSetting::Fixed(ProtocolType::Halfblocks),
            ),
            ("Kitty", GraphicsSetting::Fixed(ProtocolType::Kitty)),
            (" sixel ", GraphicsSetting::Fixed(ProtocolType::Sixel)),
            ("ITERM2", GraphicsSetting::Fixed(ProtocolType::Iterm2)),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<GraphicsSetting>(),
                Ok(expected),
                "input {text:?}"
            );
        }
    }

    #[test]
    fn setting_rejects_unknown_name() {
        let error = "ascii-art"
            .parse::<GraphicsSetting>()
            .expect_err("unknown protocol must be rejected");
        assert_eq!(error.value, "ascii-art");
        assert!(error.to_string().contains("halfblocks"));
    }

    #[test]
    fn new_preview_uses_halfblocks() {
        let preview = Preview::new(GraphicsSetting::Auto);
        assert_eq!(preview.protocol(), ProtocolType::Halfblocks);
        assert!(!preview.is_detecting());
        assert!(!preview.has_image());
    }

    #[test]
    fn halfblocks_colour_the_pane() {
        let red = [200, 30, 30];
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Fixed(ProtocolType::Halfblocks));
        preview.set_image(Some(filled(600, 600, red)));
        draw(&mut terminal, &mut preview);

        let buffer = terminal.backend().buffer();
        // The pane is 500x400 pixels at 10x20 pixels a cell, so a square
        // image becomes 400x400 pixels, which is 40 columns by 20 rows.
        let coloured = cells_with_color(buffer, PANE, rgb(red));
        assert_eq!(coloured, 40 * 20);
    }

    #[test]
    fn halfblocks_stay_inside_pane() {
        let red = [200, 30, 30];
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);
        preview.set_image(Some(filled(600, 600, red)));
        draw(&mut terminal, &mut preview);

        let buffer = terminal.backend().buffer();
        let everywhere = cells_with_color(buffer, buffer.area, rgb(red));
        let in_pane = cells_with_color(buffer, PANE, rgb(red));
        assert!(in_pane > 0);
        assert_eq!(everywhere, in_pane);
    }

    #[test]
    fn small_image_scales_up() {
        let green = [20, 180, 40];
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);
        preview.set_image(Some(filled(40, 40, green)));
        draw(&mut terminal, &mut preview);

        let buffer = terminal.backend().buffer();
        // At 10x20 pixels a cell, 40x40 pixels unscaled would cover only 4x2 cells.
        assert_eq!(cells_with_color(buffer, PANE, rgb(green)), 40 * 20);
    }

    #[test]
    fn changed_image_leaves_no_cells() {
        let red = [200, 30, 30];
        let blue = [30, 30, 200];
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);

        preview.set_image(Some(filled(600, 600, red)));
        draw(&mut terminal, &mut preview);
        // A wide image covers fewer rows than the square one did.
        preview.set_image(Some(filled(1000, 200, blue)));
        draw(&mut terminal, &mut preview);

        let buffer = terminal.backend().buffer();
        assert_eq!(cells_with_color(buffer, PANE, rgb(red)), 0);
        assert!(cells_with_color(buffer, PANE, rgb(blue)) > 0);
    }

    #[test]
    fn render_resets_cells_under_pane() {
        let red = [200, 30, 30];
        let backdrop = Color::Rgb(1, 2, 3);
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);
        preview.set_image(Some(filled(1000, 200, red)));
        terminal
            .draw(|frame| {
                let backdrop_block =
                    ratatui::widgets::Block::new().style(ratatui::style::Style::new().bg(backdrop));
                frame.render_widget(backdrop_block, frame.area());
                preview.render(frame, PANE);
            })
            .expect("TestBackend draw cannot fail");

        let buffer = terminal.backend().buffer();
        assert_eq!(cells_with_color(buffer, PANE, backdrop), 0);
        assert!(cells_with_color(buffer, PANE, rgb(red)) > 0);
    }

    #[test]
    fn cleared_image_blanks_pane() {
        let red = [200, 30, 30];
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);

        preview.set_image(Some(filled(600, 600, red)));
        draw(&mut terminal, &mut preview);
        preview.set_image(None);
        draw(&mut terminal, &mut preview);

        let buffer = terminal.backend().buffer();
        assert!(!preview.has_image());
        assert_eq!(cells_with_color(buffer, PANE, rgb(red)), 0);
        for position in PANE.positions() {
            let symbol = buffer.cell(position).map(|cell| cell.symbol().to_owned());
            assert_eq!(symbol.as_deref(), Some(" "), "cell {position:?}");
        }
    }

    #[test]
    fn pane_resize_reencodes() {
        let red = [200, 30, 30];
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);
        preview.set_image(Some(filled(600, 600, red)));
        draw(&mut terminal, &mut preview);

        let small = Rect::new(10, 2, 20, 8);
        terminal
            .draw(|frame| preview.render(frame, small))
            .expect("TestBackend draw cannot fail");

        let buffer = terminal.backend().buffer();
        // 20x8 cells are 200x160 pixels, which fit a 160x160 square of 16x8 cells.
        assert_eq!(cells_with_color(buffer, small, rgb(red)), 16 * 8);
        assert_eq!(cells_with_color(buffer, buffer.area, rgb(red)), 16 * 8);
    }

    #[test]
    fn zero_area_draws_nothing() {
        let mut terminal = Terminal::new(TestBackend::new(80, 30)).expect("TestBackend");
        let mut preview = Preview::new(GraphicsSetting::Auto);
        preview.set_image(Some(filled(600, 600, [200, 30, 30])));
        terminal
            .draw(|frame| preview.render(frame, Rect::new(10, 2, 0, 0)))
            .expect("TestBackend draw cannot fail");

        let buffer = terminal.backend().buffer();
        assert_eq!(cells_with_color(buffer, buffer.area, rgb([200, 30, 30])), 0);
    }

    #[test]
    fn detection_skipped_for_fixed_setting() {
        let mut preview = Preview::new(GraphicsSetting::Fixed(ProtocolType::Halfblocks));
        preview.start_detection();
        assert!(!preview.is_detecting());
        assert!(!preview.poll_detection());
    }
}
