//! `demo --json`: one JSON document instead of the table, for scripts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::demo::record::{Moment, Run};

/// `{"scenarios":[...]}`, in the order they ran.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub scenarios: Vec<ScenarioReport<'a>>,
}

/// One scenario: its `--scenario` name, the setting it changes, its
/// verdict and every sample.
#[derive(Debug, Serialize)]
pub struct ScenarioReport<'a> {
    pub name: &'static str,
    pub settings: BTreeMap<&'static str, &'static str>,
    pub verdict: String,
    pub samples: &'a [Moment],
}

impl<'a> Document<'a> {
    pub fn of(runs: &'a [Run]) -> Document<'a> {
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
