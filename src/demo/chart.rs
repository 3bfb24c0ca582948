//! The demo's chart: one small panel per scenario, both servers' live
//! tasks against seconds, the idle wait on the same axis after a dashed
//! rule where the requests end. Hand-written SVG in the dashboard's look
//! (`look.css`), so that both show the leak the same way.

use std::fmt::Write;
use std::path::Path;

use crate::demo::error::DemoError;
use crate::demo::record::{Moment, Pace, Run};
use crate::scenario;
use crate::serve::dashboard::chart_start;

/// Panels side by side.
const COLUMNS: usize = 4;
const PANEL_WIDTH: f64 = 300.0;
const PANEL_HEIGHT: f64 = 230.0;
/// Room for the chart's title and legend.
const HEADER: f64 = 78.0;
const PAD: f64 = 14.0;
/// Inside a panel: room for its title above and the axis labels around.
const INSET_TOP: f64 = 44.0;
const INSET_LEFT: f64 = 44.0;
const INSET_RIGHT: f64 = 14.0;
const INSET_BOTTOM: f64 = 30.0;

/// Writes the chart as SVG at `path`.
pub(crate) fn draw(path: &Path, runs: &[Run], pace: Pace) -> Result<(), DemoError> {
    std::fs::write(path, render(runs, pace)).map_err(|err| DemoError::Chart {
        path: path.display().to_string(),
        reason: err.to_string(),
    })
}

/// The chart as SVG text.
pub(crate) fn render(runs: &[Run], pace: Pace) -> String {
    let rows = runs.len().div_ceil(COLUMNS).max(1);
    let width = PAD * 2.0 + COLUMNS as f64 * PANEL_WIDTH;
    let height = HEADER + rows as f64 * PANEL_HEIGHT + PAD;
    let pace_text = match pace.rate {
        0 => "as fast as answered".to_owned(),
        rate => format!("{rate} a second"),
    };
    let title = format!(
        "Live tasks: {} sequential /forward requests per scenario, {pace_text}, then idle",
        pace.requests
    );
    let mut svg = chart_start(width, height, &title);
    legend(&mut svg, PAD, 56.0);
    for (index, run) in runs.iter().enumerate() {
        let x = PAD + (index % COLUMNS) as f64 * PANEL_WIDTH;
        let y = HEADER + (index / COLUMNS) as f64 * PANEL_HEIGHT;
        panel(&mut svg, run, x, y);
    }
    svg.push_str("</svg>\n");
    svg
}

fn legend(svg: &mut String, x: f64, y: f64) {
    let items = [
        ("swatch server2", "server 2 (/forward, the client side)"),
        ("swatch server1", "server 1 (/hello, the server side)"),
    ];
    for (index, (class, label)) in items.iter().enumerate() {
        let left = x + index as f64 * 300.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{left}" y="{top}" width="14" height="14" class="{class}"/><text x="{text}" y="{baseline}" class="title">{label}</text>"#,
            top = y - 11.0,
            text = left + 20.0,
            baseline = y,
        );
    }
    let left = x + 600.0;
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" x2="{end}" y1="{middle}" y2="{middle}" class="idle-rule"/><text x="{text}" y="{y}" class="title">the last request; idle after it</text>"#,
        end = left + 20.0,
        middle = y - 4.0,
        text = left + 26.0,
    );
}

/// A panel's scales: its plot's size, its last second and its highest
/// count, and where a second and a count fall in it.
struct Scale {
    plot_width: f64,
    plot_height: f64,
    last_second: f64,
    highest: f64,
}

impl Scale {
    fn of(run: &Run) -> Scale {
        let highest = run
            .samples
            .iter()
            .map(|s| s.server2_tasks.max(s.server1_tasks))
            .max()
            .unwrap_or(0)
            .max(10) as f64
            * 1.1;
        Scale {
            plot_width: PANEL_WIDTH - 8.0 - INSET_LEFT - INSET_RIGHT,
            plot_height: PANEL_HEIGHT - 8.0 - INSET_TOP - INSET_BOTTOM,
            last_second: run.samples.last().map_or(1.0, |s| s.seconds).max(0.1),
            highest,
        }
    }

    fn at_x(&self, seconds: f64) -> f64 {
        INSET_LEFT + seconds / self.last_second * self.plot_width
    }

    fn at_y(&self, tasks: f64) -> f64 {
        INSET_TOP + self.plot_height - tasks / self.highest * self.plot_height
    }
}

/// One scenario's panel, its top-left corner at (`x`, `y`).
fn panel(svg: &mut String, run: &Run, x: f64, y: f64) {
    let verdict = run.recording.verdict();
    let verdict_class = verdict.word();
    let scale = Scale::of(run);
    let (plot_width, plot_height, last_second) =
        (scale.plot_width, scale.plot_height, scale.last_second);
    let (at_x, at_y) = (|s| scale.at_x(s), |t| scale.at_y(t));
    let _ = write!(
        svg,
        r#"<g transform="translate({x},{y})">
<rect x="0" y="0" width="{w}" height="{h}" rx="8" class="frame"/>
<rect x="0" y="0" width="{w}" height="5" rx="2" fill="{accent}"/>
<text x="10" y="24" class="panel-title">{label}</text>
<text x="10" y="40" class="panel-title {verdict_class}">{verdict}</text>
"#,
        w = PANEL_WIDTH - 8.0,
        h = PANEL_HEIGHT - 8.0,
        accent = accent_of(run),
        label = run.scenario.label(),
    );
    // Axes: the top and bottom of the tasks scale, the first and last second.
    for tasks in [0.0, scale.highest / 1.1] {
        let _ = writeln!(
            svg,
            r#"<line x1="{INSET_LEFT}" x2="{right}" y1="{y}" y2="{y}" class="grid"/><text x="{label_x}" y="{label_y}" text-anchor="end" class="title">{tasks:.0}</text>"#,
            right = INSET_LEFT + plot_width,
            y = at_y(tasks),
            label_x = INSET_LEFT - 5.0,
            label_y = at_y(tasks) + 4.0,
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{INSET_LEFT}" y="{bottom}" class="title">0 s</text><text x="{right}" y="{bottom}" text-anchor="end" class="title">{last_second:.1} s</text>
<line x1="{rule}" x2="{rule}" y1="{INSET_TOP}" y2="{floor}" class="idle-rule"/>
"#,
        bottom = INSET_TOP + plot_height + 18.0,
        right = INSET_LEFT + plot_width,
        rule = at_x(run.requests_ended),
        floor = INSET_TOP + plot_height,
    );
    let line = |tasks_of: fn(&Moment) -> usize| -> String {
        run.samples
            .iter()
            .map(|s| format!("{:.1},{:.1}", at_x(s.seconds), at_y(tasks_of(s) as f64)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(
        svg,
        r#"<polyline points="{}" class="line server2"/>
<polyline points="{}" class="line server1"/>
</g>
"#,
        line(|s| s.server2_tasks),
        line(|s| s.server1_tasks),
    );
}

/// The scenario's own colour, from its place in the registry: hues spread
/// evenly around the wheel, so every scenario has one of its own.
fn accent_of(run: &Run) -> String {
    let index = scenario::ALL
        .iter()
        .position(|s| s == run.scenario)
        .unwrap_or(0);
    let hue = index * 360 / scenario::ALL.len();
    format!("hsl({hue}, 65%, 45%)")
}
