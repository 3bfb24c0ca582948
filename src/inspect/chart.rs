//! `--chart PATH`: each leaking row's connections on one time axis, one
//! line each in the order they were asked for, so that the staircase a
//! leak makes shows at a glance: a dot where a connection was asked for,
//! a bar while it was in use, a thin line while it has been idle since,
//! and a ring where it was seen used again. Hand-written SVG in the look
//! of the demo's chart and the dashboard (`look.css`).
//!
//! The times are the kernel's: when the request side last carried data
//! and when the connection went quiet, as `tcp_info` keeps them, so a
//! connection open long before the watch began is drawn where it was
//! asked for, however long ago.

use std::fmt::Write;
use std::path::Path;

use super::name::printable;
use super::peer::Direction;
use crate::serve::dashboard::chart_start;

/// Of a row with more connections than this, this many are drawn, evenly
/// by when they were asked for: enough for a staircase, a small file.
const MOST_DRAWN: usize = 600;
/// Rows drawn, those with the most connections first.
const MOST_ROWS: usize = 12;
const WIDTH: f64 = 960.0;
const HEADER: f64 = 74.0;
const PAD: f64 = 14.0;
/// Inside a panel: room for its title above and the time labels below.
const INSET_TOP: f64 = 40.0;
const INSET_LEFT: f64 = 16.0;
const INSET_RIGHT: f64 = 16.0;
const INSET_BOTTOM: f64 = 30.0;
/// A connection's line, at most and at least, in pixels.
const LINE_MOST: f64 = 8.0;
const PLOT_LEAST: f64 = 60.0;
const PLOT_MOST: f64 = 360.0;

/// A row that read `leaks`, as the chart draws it.
#[derive(Debug, Clone)]
pub(crate) struct Charted {
    pub(crate) pid: i32,
    pub(crate) command: String,
    pub(crate) direction: Direction,
    pub(crate) peer: String,
    pub(crate) connections: Vec<Drawn>,
}

/// One connection, its times in milliseconds from the start of the watch
/// (before it, negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drawn {
    /// When its request side last carried data.
    pub(crate) asked_at: i64,
    /// When data last went either way.
    pub(crate) quiet_since: i64,
    pub(crate) used_once: bool,
    pub(crate) reused: bool,
}

/// Writes the chart of `rows`, the watch having lasted `watched_ms`, at
/// `path`.
pub(crate) fn draw(path: &Path, rows: &[Charted], watched_ms: i64) -> std::io::Result<()> {
    std::fs::write(path, render(rows, watched_ms))
}

/// The chart as SVG text.
pub(crate) fn render(rows: &[Charted], watched_ms: i64) -> String {
    let mut drawn: Vec<&Charted> = rows.iter().collect();
    drawn.sort_by_key(|row| std::cmp::Reverse(row.connections.len()));
    let left_out = drawn.len().saturating_sub(MOST_ROWS);
    drawn.truncate(MOST_ROWS);
    let heights: Vec<f64> = drawn.iter().map(|row| panel_height(row)).collect();
    let height = HEADER + heights.iter().sum::<f64>() + PAD.max(24.0 * f64::from(drawn.is_empty()));
    let title = format!(
        "Leaking rows: each connection by when it was asked for, watched {:.1} s",
        watched_ms as f64 / 1000.0
    );
    let mut svg = chart_start(WIDTH, height, &title);
    legend(&mut svg, PAD, 56.0);
    if drawn.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{PAD}" y="{y}" class="title">No row read leaks at the last sample: nothing to draw.</text>"#,
            y = HEADER + 10.0,
        );
    }
    let mut top = HEADER;
    for (row, height) in drawn.iter().zip(&heights) {
        panel(&mut svg, row, top, *height, watched_ms);
        top += height;
    }
    if left_out > 0 {
        let _ = writeln!(
            svg,
            r#"<text x="{PAD}" y="{y}" class="title">{left_out} more rows read leaks, with fewer connections: not drawn.</text>"#,
            y = top + 4.0,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A legend item's mark, drawn with its left edge at a given x.
type Mark<'a> = &'a dyn Fn(f64) -> String;

fn legend(svg: &mut String, x: f64, y: f64) {
    let middle = y - 4.0;
    let bar = middle - 3.5;
    let (rule_top, rule_bottom) = (y - 12.0, y + 2.0);
    // Each item: its mark at `at`, its words `gap` to the right of `at`,
    // and its width, where the next item starts.
    let items: [(Mark, &str, f64, f64); 6] = [
        (
            &|at| {
                format!(
                    r#"<circle cx="{}" cy="{middle}" r="3.5" class="asked"/>"#,
                    at + 4.0
                )
            },
            "asked for",
            12.0,
            90.0,
        ),
        (
            &|at| format!(r#"<rect x="{at}" y="{bar}" width="22" height="7" class="used"/>"#),
            "in use",
            28.0,
            82.0,
        ),
        (
            &|at| {
                let end = at + 22.0;
                format!(
                    r#"<line x1="{at}" x2="{end}" y1="{middle}" y2="{middle}" stroke-width="1.5" class="idle-span"/>"#
                )
            },
            "idle since",
            28.0,
            96.0,
        ),
        (
            &|at| {
                format!(
                    r#"<circle cx="{}" cy="{middle}" r="4.5" class="reused"/>"#,
                    at + 4.0
                )
            },
            "seen used again after idle (not a leak's)",
            12.0,
            272.0,
        ),
        (
            &|at| format!(r#"<rect x="{at}" y="{bar}" width="22" height="7" class="used other"/>"#),
            "not used once",
            28.0,
            140.0,
        ),
        (
            &|at| {
                format!(
                    r#"<line x1="{at}" x2="{at}" y1="{rule_top}" y2="{rule_bottom}" class="idle-rule"/>"#
                )
            },
            "the watch began",
            8.0,
            0.0,
        ),
    ];
    let mut at = x;
    for (mark, words, gap, width) in items {
        let _ = writeln!(
            svg,
            r#"{}<text x="{}" y="{y}" class="title">{words}</text>"#,
            mark(at),
            at + gap
        );
        at += width;
    }
}

/// A panel's height: its plot grows with its connections, within bounds.
fn panel_height(row: &Charted) -> f64 {
    let lines = row.connections.len().min(MOST_DRAWN) as f64;
    INSET_TOP + (lines * LINE_MOST).clamp(PLOT_LEAST, PLOT_MOST) + INSET_BOTTOM + 8.0
}

/// Where a time falls: the axis runs from the first time drawn to the
/// last sample.
struct Axis {
    from: i64,
    to: i64,
    width: f64,
}

impl Axis {
    fn at(&self, millis: i64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        INSET_LEFT + (millis - self.from) as f64 / span * self.width
    }
}

/// One row's panel, its top at `top`.
fn panel(svg: &mut String, row: &Charted, top: f64, height: f64, watched_ms: i64) {
    let mut connections = row.connections.clone();
    connections.sort_by_key(|c| (c.asked_at, c.quiet_since));
    let shown = evenly(&connections, MOST_DRAWN);
    let used_once = connections.iter().filter(|c| c.used_once).count();
    let from = shown.iter().map(|c| c.asked_at.min(c.quiet_since)).min();
    // At least a second across, so that a burst is not stretched wide.
    let from = from.unwrap_or(watched_ms).min(watched_ms - 1000);
    let axis = Axis {
        from,
        to: watched_ms,
        width: WIDTH - 2.0 * PAD - 8.0 - INSET_LEFT - INSET_RIGHT,
    };
    let plot_height = height - 8.0 - INSET_TOP - INSET_BOTTOM;
    let drawn_note = match shown.len() < connections.len() {
        true => format!(", {} of them drawn", shown.len()),
        false => String::new(),
    };
    let _ = write!(
        svg,
        r##"<g transform="translate({PAD},{top})" class="chart-row" data-pid="{pid}" data-direction="{direction}" data-from-ms="{from}" data-to-ms="{to}" data-plot-left="{INSET_LEFT}" data-plot-width="{plot_width}">
<rect x="0" y="0" width="{w}" height="{h}" rx="8" class="frame"/>
<rect x="0" y="0" width="{w}" height="5" rx="2" fill="#c0392b"/>
<text x="10" y="26" class="panel-title">PID {pid} {command}, {direction} {peer}: <tspan class="leaks">leaks</tspan>, {used_once} of {open} open used once{drawn_note}</text>
"##,
        pid = row.pid,
        direction = row.direction,
        to = axis.to,
        plot_width = axis.width,
        w = WIDTH - 2.0 * PAD,
        h = height - 8.0,
        command = escaped(&printable(&row.command)),
        peer = escaped(&row.peer),
        open = connections.len(),
    );
    let floor = INSET_TOP + plot_height;
    let label = floor + 18.0;
    let _ = writeln!(
        svg,
        r#"<text x="{right}" y="{label}" text-anchor="end" class="title">0 s: the last sample</text>"#,
        right = INSET_LEFT + axis.width,
    );
    // Ticks back from the last sample, a round number of seconds apart.
    let every = tick_step(watched_ms - from);
    for n in 1.. {
        let at = watched_ms - n * every;
        if at < from {
            break;
        }
        let x = axis.at(at);
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{INSET_TOP}" y2="{floor}" class="grid"/><text x="{x:.1}" y="{label}" text-anchor="middle" class="title">-{seconds} s</text>"#,
            seconds = n * every / 1000,
        );
    }
    let step = plot_height / shown.len().max(1) as f64;
    let thickness = (step * 0.7).min(LINE_MOST - 2.0);
    for (rank, connection) in shown.iter().enumerate() {
        let y = floor - (rank as f64 + 0.5) * step;
        line(svg, connection, &axis, y, thickness);
    }
    // Over the lines, where the watch began.
    if from < 0 {
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" x2="{x}" y1="{INSET_TOP}" y2="{floor}" class="idle-rule"/>"#,
            x = axis.at(0),
        );
    }
    svg.push_str("</g>\n");
}

/// One connection's line at height `y`.
fn line(svg: &mut String, connection: &Drawn, axis: &Axis, y: f64, thickness: f64) {
    let asked = axis.at(connection.asked_at);
    let quiet = axis.at(connection.quiet_since).max(asked);
    let class = if connection.used_once {
        "used"
    } else {
        "used other"
    };
    let _ = writeln!(
        svg,
        r#"<line x1="{quiet:.1}" x2="{end:.1}" y1="{y:.1}" y2="{y:.1}" stroke-width="{idle:.2}" class="idle-span"/><rect x="{asked:.1}" y="{bar_top:.1}" width="{bar:.1}" height="{thickness:.1}" class="{class}"/><circle cx="{asked:.1}" cy="{y:.1}" r="{dot:.1}" class="asked" data-asked-ms="{at}"/>"#,
        end = axis.at(axis.to),
        // Thin where lines are packed, so that the staircase stays dark.
        idle = (thickness * 0.3).min(1.5),
        bar_top = y - thickness / 2.0,
        bar = (quiet - asked).max(2.0),
        dot = (thickness * 0.6).max(0.8),
        at = connection.asked_at,
    );
    if connection.reused {
        let _ = writeln!(
            svg,
            r#"<circle cx="{quiet:.1}" cy="{y:.1}" r="{ring:.1}" class="reused"/>"#,
            ring = thickness.max(2.0),
        );
    }
}

/// Whole seconds between ticks (1, 2 or 5 times a power of ten), so that
/// `span` milliseconds hold at most eight.
fn tick_step(span: i64) -> i64 {
    let mut unit = 1000;
    loop {
        for step in [unit, 2 * unit, 5 * unit] {
            if span / step <= 8 {
                return step;
            }
        }
        unit *= 10;
    }
}

/// At most `most` of `all`, evenly spread over them, the first and the
/// last among them.
fn evenly(all: &[Drawn], most: usize) -> Vec<Drawn> {
    if all.len() <= most {
        return all.to_vec();
    }
    (0..most)
        .map(|n| all[n * (all.len() - 1) / (most - 1)])
        .collect()
}

/// Text safe inside SVG: the five characters XML gives meaning to.
fn escaped(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => safe.push_str("&amp;"),
            '<' => safe.push_str("&lt;"),
            '>' => safe.push_str("&gt;"),
            '"' => safe.push_str("&quot;"),
            '\'' => safe.push_str("&apos;"),
            other => safe.push(other),
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` asked for 1 s apart from a minute before the watch, or
    /// 0.1 s apart from 100 s before it past 100.
    fn leak(count: i64) -> Charted {
        let (first, every) = if count > 100 {
            (-100_000, 100)
        } else {
            (-60_000, 1000)
        };
        Charted {
            pid: 42,
            command: "a<b>&\"c\"".into(),
            direction: Direction::Out,
            peer: "127.0.0.1:8080".into(),
            connections: (0..count)
                .map(|n| Drawn {
                    asked_at: first + n * every,
                    quiet_since: first + n * every + 5,
                    used_once: true,
                    reused: n == 0,
                })
                .collect(),
        }
    }

    #[test]
    fn each_connection_is_one_mark_where_it_was_asked_for() {
        let svg = render(&[leak(30)], 10_000);
        assert_eq!(svg.matches(r#"class="asked" data-asked-ms"#).count(), 30);
        let (_, panels) = svg.split_once("<g ").expect("a panel");
        assert_eq!(panels.matches(r#"class="reused""#).count(), 1);
        assert!(svg.contains(r#"data-asked-ms="-31000""#), "{svg}");
        assert!(svg.contains("a&lt;b&gt;&amp;&quot;c&quot;"), "{svg}");
    }

    #[test]
    fn past_the_most_drawn_they_are_drawn_evenly_and_the_title_says_so() {
        let svg = render(&[leak(1000)], 10_000);
        assert_eq!(
            svg.matches(r#"class="asked" data-asked-ms"#).count(),
            MOST_DRAWN
        );
        assert!(svg.contains("data-asked-ms=\"-100000\""));
        assert!(svg.contains("data-asked-ms=\"-100\""));
        assert!(svg.contains("600 of them drawn"));
    }

    #[test]
    fn ticks_are_a_round_number_of_seconds_apart_and_at_most_eight() {
        assert_eq!(tick_step(7_000), 1000);
        assert_eq!(tick_step(60_000), 10_000);
        assert_eq!(tick_step(3_600_000), 500_000);
    }

    #[test]
    fn no_leaking_row_says_there_is_nothing_to_draw() {
        let svg = render(&[], 10_000);
        assert!(svg.contains("nothing to draw"));
        assert!(!svg.contains("data-asked-ms"));
    }
}
