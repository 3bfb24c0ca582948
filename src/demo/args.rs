//! What `demo` takes on the command line.

use std::path::PathBuf;

use clap::Args;

use crate::scenario::Scenario;
use crate::scenario::recording::FEWEST_REQUESTS;

/// What `demo` takes.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Sequential /forward requests per scenario (scripts/load.sh, the
    /// walkthrough's curl loop, sends 400); at least 5, the fewest a
    /// scenario can be judged on.
    #[arg(long, default_value_t = 400, value_parser = parse_requests)]
    pub(crate) requests: u32,
    /// Requests a second, a steady pace a person can follow on the chart
    /// (a curl loop's own pace depends on the machine). 0 sends each
    /// request as soon as the one before is answered.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub(crate) rate: u32,
    /// Where to write the SVG chart (by default under target/, which git
    /// ignores); while another demo running at the same time holds it, the
    /// next free name beside it (leak-demo-2.svg), said at the end.
    #[arg(long, default_value = "target/leak-demo.svg")]
    pub(crate) chart: PathBuf,
    /// Print one JSON document (every scenario's settings, verdict and
    /// samples) instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Run only this scenario (see `scenarios`); repeat for more. Every one
    /// by default.
    #[arg(long = "scenario", value_name = "NAME", value_parser = Scenario::named)]
    pub(crate) scenarios: Vec<&'static Scenario>,
}

/// `--requests`: a whole number from [`FEWEST_REQUESTS`] to a million.
fn parse_requests(text: &str) -> Result<u32, String> {
    let fewest = FEWEST_REQUESTS as u32;
    match text.parse::<u32>() {
        Ok(requests) if (fewest..=1_000_000).contains(&requests) => Ok(requests),
        Ok(requests) if requests < fewest => Err(format!(
            "{requests} requests cannot show a leak: a scenario is judged on at least {fewest}"
        )),
        _ => Err(format!(
            "expected a whole number of requests from {fewest} to 1000000"
        )),
    }
}
