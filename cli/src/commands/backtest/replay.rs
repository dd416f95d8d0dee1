//! Each model alone without running it twice: the ensemble's run records every model's
//! probabilities per (day, ticker) ([`Recording`]), and the single-model baselines replay
//! them ([`Replay`]). The windows of a day depend only on the market data, never on the
//! portfolio, so the replayed probabilities are exactly what `ensemble::SingleModel` would
//! compute on them (the same model, the same rows); this halves a backtest's inference.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use ensemble::Ensemble;
use shared::core::prediction::{
    ClassProbabilities, FeatureWindow, Prediction, Predictor, PredictorError,
};

type Day = Vec<(String, BTreeMap<String, ClassProbabilities>)>;

/// The ensemble as a predictor that keeps each model's probabilities.
pub struct Recording<'a> {
    ensemble: &'a Ensemble,
    days: RefCell<BTreeMap<NaiveDate, Day>>,
}

impl<'a> Recording<'a> {
    pub fn new(ensemble: &'a Ensemble) -> Self {
        Self {
            ensemble,
            days: RefCell::new(BTreeMap::new()),
        }
    }

    /// A replay of model `name` over the recorded days.
    pub fn replay(&self, name: &str) -> Replay {
        Replay {
            model: name.to_string(),
            version: format!("{}/{}", self.ensemble.version(), name),
            timeout_return: self
                .days
                .borrow()
                .keys()
                .map(|d| (*d, self.ensemble.timeout_return()))
                .collect(),
            days: self.days.borrow().clone(),
        }
    }
}

impl Predictor for Recording<'_> {
    fn version(&self) -> &str {
        self.ensemble.version()
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        let day = self
            .ensemble
            .predict_windows(date, windows)
            .map_err(|e| PredictorError {
                predictor: self.ensemble.version().to_string(),
                message: e.to_string(),
            })?;
        let record = day
            .predictions
            .iter()
            .map(|p| (p.prediction.ticker.clone(), p.model_probabilities.clone()))
            .collect();
        self.days.borrow_mut().insert(date, record);
        Ok(day.predictions.into_iter().map(|p| p.prediction).collect())
    }
}

/// One model's recorded probabilities as a predictor.
pub struct Replay {
    model: String,
    version: String,
    days: BTreeMap<NaiveDate, Day>,
    /// The recorded bundle's time-out return per day (walk-forward folds differ).
    timeout_return: BTreeMap<NaiveDate, Option<f64>>,
}

impl Replay {
    pub fn name(&self) -> &str {
        &self.model
    }

    /// One model's replays of consecutive periods (the walk-forward's folds, each its own
    /// bundle) as one predictor named `version`.
    pub fn concat(model: &str, version: String, parts: impl IntoIterator<Item = Replay>) -> Self {
        let mut days = BTreeMap::new();
        let mut timeout_return = BTreeMap::new();
        for part in parts {
            days.extend(part.days);
            timeout_return.extend(part.timeout_return);
        }
        Replay {
            model: model.to_string(),
            version,
            days,
            timeout_return,
        }
    }
}

impl Predictor for Replay {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        let fail = |message: String| PredictorError {
            predictor: self.version.clone(),
            message,
        };
        let day = self
            .days
            .get(&date)
            .ok_or_else(|| fail(format!("no recorded predictions for {date}")))?;
        let asked: HashSet<&str> = windows.iter().map(|w| w.ticker).collect();
        day.iter()
            .filter(|(ticker, _)| asked.contains(ticker.as_str()))
            .map(|(ticker, by_model)| {
                let p = by_model
                    .get(&self.model)
                    .ok_or_else(|| fail(format!("model {} not recorded", self.model)))?;
                Ok(
                    Prediction::from_probabilities(ticker.clone(), date, &self.version, *p)
                        .with_timeout_return(self.timeout_return.get(&date).copied().flatten()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use shared::adapters::price_csv;
    use shared::core::backtest::engine::windows_on;
    use shared::core::backtest::{BacktestConfig, MarketData, RawInputs};

    use super::*;

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path)
    }

    #[test]
    fn replay_equals_each_committed_model_run_alone() {
        let ensemble = Ensemble::load_local_blocking(&repo("models/store")).unwrap();
        let raw = RawInputs {
            prices: price_csv::load_dir(&repo("data/sample/prices")).unwrap(),
            items: Vec::new(),
            benchmark: price_csv::load_bars(&repo("data/sample/benchmark/SPY.csv")).unwrap(),
            daily_sentiment: None,
        };
        let config =
            BacktestConfig::new("2020-03-02".parse().unwrap(), "2020-03-13".parse().unwrap());
        let data = MarketData::build(&raw, config.from, config.to);
        let recording = Recording::new(&ensemble);
        let days = config.trading_days();
        for day in &days {
            recording
                .predict_day(*day, &windows_on(&data, *day))
                .unwrap();
        }
        let names: Vec<String> = ensemble.weights().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names.len(), 3);
        for name in names {
            let replay = recording.replay(&name);
            let single = ensemble.single(&name).unwrap();
            for day in &days {
                let windows = windows_on(&data, *day);
                let a = replay.predict_day(*day, &windows).unwrap();
                let b = single.predict_day(*day, &windows).unwrap();
                assert_eq!(a.len(), windows.len());
                assert_eq!(a, b, "{name} on {day}");
            }
        }
    }
}
