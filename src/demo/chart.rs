//! The demo's chart: live tasks against request number, one panel per
//! role, one line per scenario, and each scenario's sample after the idle
//! wait as a dot to the right of the last request.

use std::path::Path;

use plotters::prelude::*;

use crate::demo::error::DemoError;
use crate::scenario::verdict::{Counts, Recording};
use crate::scenario::{self, Scenario};

const SIZE: (u32, u32) = (1200, 640);

/// A role's panel title, and how to read its count.
type Role = (&'static str, fn(&Counts) -> usize);

/// The left panel, then the right one.
const ROLES: [Role; 2] = [
    ("server 2 (/forward, the client side)", |counts| {
        counts.server2
    }),
    ("server 1 (/hello, the server side)", |counts| {
        counts.server1
    }),
];

/// Draws the chart as SVG at `path`.
pub fn draw(
    path: &Path,
    results: &[(&Scenario, Recording)],
    requests: usize,
) -> Result<(), DemoError> {
    let draw_error = |err: &dyn std::fmt::Display| DemoError::Chart {
        path: path.display().to_string(),
        reason: err.to_string(),
    };
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|err| draw_error(&err))?;
    let root = root
        .titled(
            &format!("Live tokio tasks during {requests} sequential /forward requests"),
            ("sans-serif", 26),
        )
        .map_err(|err| draw_error(&err))?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let panels = [left, right].into_iter().zip(ROLES);
    let highest = results
        .iter()
        .map(|(_, recording)| recording.peak())
        .map(|peak| peak.server2.max(peak.server1))
        .max()
        .unwrap_or(0)
        .max(10);
    // The idle sample sits a little right of the last request.
    let idle_x = requests as f64 * 1.1 + 1.0;
    for (area, (title, count_of)) in panels {
        let mut chart = ChartBuilder::on(&area)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..idle_x * 1.04, 0.0..highest as f64 * 1.08)
            .map_err(|err| draw_error(&err))?;
        chart
            .configure_mesh()
            .x_desc("request number (dot: after the idle wait)")
            .y_desc("live tasks")
            .x_label_formatter(&|x| {
                // No numbers past the last request: the dots are a time, not a request.
                if *x <= requests as f64 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|err| draw_error(&err))?;
        // A grey rule where the requests end and the idle wait begins.
        chart
            .draw_series(LineSeries::new(
                [(requests as f64, 0.0), (requests as f64, highest as f64)],
                BLACK.mix(0.25),
            ))
            .map_err(|err| draw_error(&err))?;
        for (scenario, recording) in results {
            let (colour, width) = pen_of(scenario);
            let points = recording
                .per_request
                .iter()
                .enumerate()
                .map(|(i, counts)| ((i + 1) as f64, count_of(counts) as f64));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(width)))
                .map_err(|err| draw_error(&err))?
                .label(format!("{}: {}", scenario.label(), recording.verdict()))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(width))
                });
            chart
                .draw_series([Circle::new(
                    (idle_x, count_of(&recording.after_idle) as f64),
                    5,
                    colour.filled(),
                )])
                .map_err(|err| draw_error(&err))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|err| draw_error(&err))?;
    }
    root.present().map_err(|err| draw_error(&err))
}

/// The scenario's colour and line width, from its place in the registry:
/// hues spread evenly around the wheel, so every scenario has its own.
/// Scenarios that show the same numbers draw the same line; each is drawn
/// thinner than the one before, so the lines beneath still show as
/// coloured edges.
fn pen_of(scenario: &Scenario) -> (HSLColor, u32) {
    let index = scenario::ALL
        .iter()
        .position(|s| s == scenario)
        .unwrap_or(0);
    let hue = index as f64 / scenario::ALL.len() as f64;
    let width = (12 - 2 * index as u32).max(2);
    (HSLColor(hue, 0.75, 0.45), width)
}
