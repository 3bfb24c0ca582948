//! `demo --json`: one JSON document instead of the table, for scripts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::demo::record::{Moment, Run};

/// `{"scenarios":[...]}`, in the order they ran.
#[derive(Debug, Serialize)]
pub(crate) struct Document<'a> {
    pub(crate) scenarios: Vec<ScenarioReport<'a>>,
}

/// One scenario: its `--scenario` name, the setting it changes, its
/// verdict and every sample.
#[derive(Debug, Serialize)]
pub(crate) struct ScenarioReport<'a> {
    pub(crate) name: &'static str,
    pub(crate) settings: BTreeMap<&'static str, &'static str>,
    pub(crate) verdict: String,
    pub(crate) samples: &'a [Moment],
}

impl<'a> Document<'a> {
    pub(crate) fn of(runs: &'a [Run]) -> Document<'a> {
        Document {
            scenarios: runs
                .iter()
                .map(|run| ScenarioReport {
                    name: run.scenario.name,
                    settings: run
                        .scenario
                        .setting
                        .iter()
                        .map(|setting| (setting.knob.env(), setting.value))
                        .collect(),
                    verdict: run.recording.verdict().to_string(),
                    samples: &run.samples,
                })
                .collect(),
        }
    }
}
