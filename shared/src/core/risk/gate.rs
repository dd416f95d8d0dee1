//! Which predictions may become entries, in what order, and when a held position is
//! closed on the model's word.
//!
//! Two entry gates, one setting ([`EntryGate`]):
//! - [`EntryGate::SeedConfidence`], the seed's literal rule: the ensemble's arg-max is BUY
//!   and its probability is above [`super::RiskConfig::min_confidence`] (0.70); candidates
//!   ranked by that probability. With calibrated probabilities of "target before stop"
//!   this almost never passes (an honest probability of a +5-10 % move in 7 days is rarely
//!   above 0.5), which is why it is kept as a setting and not the rule.
//! - [`EntryGate::ExpectedValue`]: every prediction of the day is priced as the trade the
//!   risk manager would place (its own stop and target from `volatility_20d`), and its
//!   expected net return ([`expected_return`]) must be above a minimum, with P(target)
//!   at least a minimum; candidates are ranked by expected return, so a day takes the
//!   best ones its free slots and cash allow. "Confidence" is then the calibrated
//!   probability of reaching the target.
//!
//! The expected value of a trade with calibrated class probabilities
//! `p = [P(stop), P(time-out or flip), P(target)]`, stop distance `s`, target distance
//! `t`, round-trip cost `c` and `r_o` the mean **net** return of time-out/flip trades
//! (estimated on the model's calibration slice and shipped in its manifest):
//!
//! ```text
//! E[net] = P(target)·(t − c) + P(stop)·(−s − c) + P(time-out)·r_o
//! ```
//!
//! Stops gapped through at the open lose more than `s`; the calibration slice's mean
//! stop return is recorded in the manifest for comparison (`docs/risk.md`).

use serde::{Deserialize, Serialize};

use crate::core::features::Label;
use crate::core::prediction::ClassProbabilities;

/// Round-trip cost of the default [`crate::core::portfolio::Costs`]: 5 bps commission +
/// 5 bps slippage on each side.
pub const DEFAULT_ROUND_TRIP_COST: f64 = 0.002;

/// The deployed entry gate (`TFT_ENTRY_GATE`'s and `tft backtest --gate`'s default):
/// expected net return above 0.1 %, chosen on development folds (docs/risk.md, "Entry
/// gate"). `RiskConfig::default()` keeps the seed's literal rule.
pub const DEFAULT_ENTRY_GATE: EntryGate = EntryGate::ExpectedValue {
    min_expected_return: 0.001,
    min_target_probability: 0.0,
    round_trip_cost: DEFAULT_ROUND_TRIP_COST,
};

/// The deployed sell flip (`TFT_SELL_FLIP`'s and `--sell-flip`'s default): off (docs/risk.md).
pub const DEFAULT_SELL_FLIP: SellFlip = SellFlip::Off;

/// How entries are chosen (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum EntryGate {
    /// The seed's rule: arg-max BUY with probability above `min_confidence`.
    SeedConfidence,
    /// Expected net return above `min_expected_return` (a fraction of the entry) and
    /// P(target) at least `min_target_probability`; ranked by expected return.
    ExpectedValue {
        min_expected_return: f64,
        min_target_probability: f64,
        round_trip_cost: f64,
    },
}

impl EntryGate {
    /// The calibrated gate with a minimum expected net return and no P(target) floor.
    pub const fn expected_value(min_expected_return: f64) -> Self {
        EntryGate::ExpectedValue {
            min_expected_return,
            min_target_probability: 0.0,
            round_trip_cost: DEFAULT_ROUND_TRIP_COST,
        }
    }
}

/// When a held position is closed because of the model's prediction (at the signal
/// date's close, `signal_flip`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "flip", rename_all = "snake_case")]
pub enum SellFlip {
    /// The seed's rule: the arg-max is SELL, whatever its probability.
    ArgMaxSell,
    /// The calibrated probability of hitting the stop is above `min`.
    StopProbabilityAbove { min: f64 },
    /// The model never closes a position; the stop, target, sentiment flip and time decay do.
    Off,
}

impl SellFlip {
    /// Does a held position with these probabilities close?
    pub fn closes(&self, probabilities: &ClassProbabilities, signal: Label) -> bool {
        match self {
            SellFlip::ArgMaxSell => signal == Label::Sell,
            SellFlip::StopProbabilityAbove { min } => probabilities[Label::Sell.index()] > *min,
            SellFlip::Off => false,
        }
    }
}

/// Expected net return of a long trade (module docs); `None` when an input is not
/// finite or the probabilities are not a distribution.
pub fn expected_return(
    probabilities: &ClassProbabilities,
    stop_pct: f64,
    target_pct: f64,
    timeout_return: f64,
    round_trip_cost: f64,
) -> Option<f64> {
    let [p_stop, p_timeout, p_target] = *probabilities;
    let finite = [
        p_stop,
        p_timeout,
        p_target,
        stop_pct,
        target_pct,
        timeout_return,
        round_trip_cost,
    ]
    .iter()
    .all(|v| v.is_finite());
    let distribution = probabilities.iter().all(|p| (0.0..=1.0).contains(p))
        && (p_stop + p_timeout + p_target - 1.0).abs() < 1e-6;
    if !(finite && distribution) {
        return None;
    }
    Some(
        p_target * (target_pct - round_trip_cost) - p_stop * (stop_pct + round_trip_cost)
            + p_timeout * timeout_return,
    )
}

/// A setting that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{setting} {value:?}: {reason}")]
pub struct GateSettingError {
    pub setting: &'static str,
    pub value: String,
    pub reason: &'static str,
}

fn number(setting: &'static str, value: &str, text: &str) -> Result<f64, GateSettingError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| GateSettingError {
            setting,
            value: value.to_string(),
            reason: "not a finite number",
        })
}

impl std::str::FromStr for EntryGate {
    type Err = GateSettingError;

    /// `seed` (the seed's 0.70 rule), or `ev[:MIN_EXPECTED_RETURN[:MIN_P_TARGET]]`
    /// (fractions, e.g. `ev:0.002:0.25`; defaults 0 and 0).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        const SETTING: &str = "entry gate";
        let mut parts = value.trim().split(':');
        match parts.next().map(str::trim) {
            Some("seed") if parts.next().is_none() => Ok(EntryGate::SeedConfidence),
            Some("ev") => {
                let min = match parts.next() {
                    Some(t) => number(SETTING, value, t)?,
                    None => 0.0,
                };
                let p = match parts.next() {
                    Some(t) => number(SETTING, value, t)?,
                    None => 0.0,
                };
                if parts.next().is_some() || !(0.0..=1.0).contains(&p) {
                    return Err(GateSettingError {
                        setting: SETTING,
                        value: value.to_string(),
                        reason: "expected ev[:MIN_EXPECTED_RETURN[:MIN_P_TARGET in 0..1]]",
                    });
                }
                Ok(EntryGate::ExpectedValue {
                    min_expected_return: min,
                    min_target_probability: p,
                    round_trip_cost: DEFAULT_ROUND_TRIP_COST,
                })
            }
            _ => Err(GateSettingError {
                setting: SETTING,
                value: value.to_string(),
                reason: "expected `seed` or `ev[:MIN_EXPECTED_RETURN[:MIN_P_TARGET]]`",
            }),
        }
    }
}

impl std::str::FromStr for SellFlip {
    type Err = GateSettingError;

    /// `argmax` (the seed's: a SELL arg-max closes), `stop:P` (calibrated P(stop) above
    /// P) or `off`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        const SETTING: &str = "sell flip";
        let v = value.trim();
        match v.split_once(':') {
            None if v == "argmax" => Ok(SellFlip::ArgMaxSell),
            None if v == "off" => Ok(SellFlip::Off),
            Some(("stop", p)) => {
                let min = number(SETTING, value, p)?;
                if (0.0..=1.0).contains(&min) {
                    Ok(SellFlip::StopProbabilityAbove { min })
                } else {
                    Err(GateSettingError {
                        setting: SETTING,
                        value: value.to_string(),
                        reason: "the probability must be in 0..1",
                    })
                }
            }
            _ => Err(GateSettingError {
                setting: SETTING,
                value: value.to_string(),
                reason: "expected `argmax`, `stop:P` or `off`",
            }),
        }
    }
}

impl std::fmt::Display for EntryGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryGate::SeedConfidence => f.write_str("seed"),
            EntryGate::ExpectedValue {
                min_expected_return,
                min_target_probability,
                ..
            } => write!(f, "ev:{min_expected_return}:{min_target_probability}"),
        }
    }
}

impl std::fmt::Display for SellFlip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SellFlip::ArgMaxSell => f.write_str("argmax"),
            SellFlip::StopProbabilityAbove { min } => write!(f, "stop:{min}"),
            SellFlip::Off => f.write_str("off"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_return_by_hand() {
        // 30 % target at +8 %, 50 % stop at −4 %, 20 % time-out averaging +0.5 % net,
        // 0.2 % round trip: 0.3 × 0.078 − 0.5 × 0.042 + 0.2 × 0.005 = 0.0034.
        let ev = expected_return(&[0.5, 0.2, 0.3], 0.04, 0.08, 0.005, 0.002).unwrap();
        assert!((ev - 0.0034).abs() < 1e-12, "{ev}");
    }

    #[test]
    fn a_certain_target_earns_the_target_less_costs() {
        let ev = expected_return(&[0.0, 0.0, 1.0], 0.05, 0.10, 0.0, 0.002).unwrap();
        assert!((ev - 0.098).abs() < 1e-12);
        let ev = expected_return(&[1.0, 0.0, 0.0], 0.05, 0.10, 0.0, 0.002).unwrap();
        assert!((ev + 0.052).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_have_no_expected_return() {
        assert_eq!(expected_return(&[0.5, 0.5, 0.5], 0.05, 0.1, 0.0, 0.0), None);
        assert_eq!(
            expected_return(&[0.2, 0.3, 0.5], f64::NAN, 0.1, 0.0, 0.0),
            None
        );
        assert_eq!(
            expected_return(&[-0.1, 0.6, 0.5], 0.05, 0.1, 0.0, 0.0),
            None
        );
    }

    #[test]
    fn sell_flip_settings() {
        let p = [0.45, 0.35, 0.20];
        assert!(SellFlip::ArgMaxSell.closes(&p, Label::Sell));
        assert!(!SellFlip::ArgMaxSell.closes(&p, Label::Hold));
        assert!(SellFlip::StopProbabilityAbove { min: 0.4 }.closes(&p, Label::Hold));
        assert!(!SellFlip::StopProbabilityAbove { min: 0.45 }.closes(&p, Label::Sell));
        assert!(!SellFlip::Off.closes(&p, Label::Sell));
    }

    #[test]
    fn settings_parse_and_print_back() {
        for text in ["seed", "ev:0.002:0.25", "ev:0:0"] {
            let gate: EntryGate = text.parse().unwrap();
            assert_eq!(gate.to_string().parse::<EntryGate>().unwrap(), gate);
        }
        assert_eq!(
            "ev".parse::<EntryGate>().unwrap(),
            EntryGate::expected_value(0.0)
        );
        assert_eq!(
            "ev:0.003".parse::<EntryGate>().unwrap(),
            EntryGate::expected_value(0.003)
        );
        for bad in ["", "seed:1", "ev:x", "ev:0:2", "ev:0:0:0", "max"] {
            assert!(bad.parse::<EntryGate>().is_err(), "{bad}");
        }
        for text in ["argmax", "off", "stop:0.5"] {
            let flip: SellFlip = text.parse().unwrap();
            assert_eq!(flip.to_string(), text);
        }
        for bad in ["stop", "stop:1.5", "stop:nan", "sell"] {
            assert!(bad.parse::<SellFlip>().is_err(), "{bad}");
        }
    }
}
