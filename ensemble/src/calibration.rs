//! Probability calibration shipped in the bundle's manifest (`models/tft_models/calibration.py`
//! fits it): per model, one isotonic map per class (SELL, HOLD, BUY), each a list of knots
//! applied as piecewise-linear interpolation clamped at the ends (numpy's `np.interp`), then
//! the three calibrated values renormalised to sum 1. The weighted vote is taken over the
//! calibrated probabilities. A manifest without `calibration` (or a model it does not list)
//! is served with its raw probabilities: the identity.
//!
//! ```json
//! "calibration": {"method": "isotonic",
//!                 "models": {"lstm": [{"x": [...], "y": [...]}, {...}, {...}], ...}}
//! ```
//!
//! Also in the manifest, estimated on the same calibration slice: [`ExpectedReturns`], the
//! mean realised net return of the trades that timed out (or closed on a sentiment flip),
//! reached the target, or hit the stop. The trading side ranks entries by expected value
//! `P(target)·target_pct − P(stop)·stop_pct + P(timeout)·timeout − costs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::core::prediction::ClassProbabilities;

/// One class's map: knots with `x` strictly increasing and `y` in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knots {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Knots {
    /// `np.interp(p, x, y)`: `y[0]` at or below `x[0]`, `y[last]` at or above `x[last]`,
    /// linear in between.
    pub fn apply(&self, p: f64) -> f64 {
        let (x, y) = (&self.x, &self.y);
        let last = x.len() - 1;
        if p.is_nan() {
            return f64::NAN;
        }
        if p <= x[0] {
            return y[0];
        }
        if p >= x[last] {
            return y[last];
        }
        // The first knot strictly above p: x[j - 1] <= p < x[j].
        let j = x.partition_point(|k| *k <= p);
        let slope = (y[j] - y[j - 1]) / (x[j] - x[j - 1]);
        slope * (p - x[j - 1]) + y[j - 1]
    }

    fn check(&self) -> Result<(), String> {
        if self.x.is_empty() || self.x.len() != self.y.len() {
            return Err(format!(
                "{} x and {} y knots (need the same number, at least one)",
                self.x.len(),
                self.y.len()
            ));
        }
        if self.x.iter().chain(&self.y).any(|v| !v.is_finite()) {
            return Err("a knot is not finite".into());
        }
        if self.x.windows(2).any(|w| w[0] >= w[1]) {
            return Err("knot x values are not strictly increasing".into());
        }
        if self.y.iter().any(|v| !(0.0..=1.0).contains(v)) {
            return Err("a knot y value is outside [0, 1]".into());
        }
        Ok(())
    }
}

/// A model's three maps in class order (SELL, HOLD, BUY).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Knots>", into = "Vec<Knots>")]
pub struct ClassMaps(pub [Knots; 3]);

impl TryFrom<Vec<Knots>> for ClassMaps {
    type Error = String;

    fn try_from(maps: Vec<Knots>) -> Result<Self, String> {
        let maps: [Knots; 3] = maps
            .try_into()
            .map_err(|m: Vec<Knots>| format!("{} class maps, need 3", m.len()))?;
        for (k, m) in maps.iter().enumerate() {
            m.check().map_err(|e| format!("class {k}: {e}"))?;
        }
        Ok(ClassMaps(maps))
    }
}

impl From<ClassMaps> for Vec<Knots> {
    fn from(maps: ClassMaps) -> Self {
        maps.0.into()
    }
}

impl ClassMaps {
    /// Each class through its map, renormalised to sum 1; the raw probabilities if the
    /// calibrated ones sum to 0 (what the Python side does too).
    pub fn apply(&self, p: ClassProbabilities) -> ClassProbabilities {
        let c = [
            self.0[0].apply(p[0]),
            self.0[1].apply(p[1]),
            self.0[2].apply(p[2]),
        ];
        let sum: f64 = c.iter().sum();
        if sum > 0.0 {
            [c[0] / sum, c[1] / sum, c[2] / sum]
        } else {
            p
        }
    }

    /// The maps change nothing on [0, 1] (probed on a grid of 101 points).
    pub fn is_identity(&self) -> bool {
        self.0.iter().all(|m| {
            (0..=100).all(|i| {
                let p = i as f64 / 100.0;
                (m.apply(p) - p).abs() < 1e-9
            })
        })
    }
}

/// The manifest's `calibration` (its diagnostics are kept by serde as they are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// "isotonic".
    pub method: String,
    /// By model name.
    pub models: BTreeMap<String, ClassMaps>,
    /// Brier score and reliability before/after per model and for the ensemble, and the
    /// raw probabilities' metrics (information only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<serde_json::Value>,
}

/// The manifest's `expected_returns`: mean realised net return (costs included, a fraction)
/// of the calibration slice's trades by how they ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedReturns {
    /// Time-out or sentiment flip (label 1, HOLD): the value of P(timeout) in the ranking.
    pub timeout: f64,
    /// Target reached (label 2, BUY), for reference.
    pub target: f64,
    /// Stop reached (label 0, SELL), for reference.
    pub stop: f64,
    /// Trades per kind in the slice.
    #[serde(default)]
    pub rows: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knots(x: &[f64], y: &[f64]) -> Knots {
        Knots {
            x: x.to_vec(),
            y: y.to_vec(),
        }
    }

    #[test]
    fn a_knot_maps_to_its_value() {
        let k = knots(&[0.1, 0.4, 0.8], &[0.05, 0.3, 0.9]);
        assert_eq!(k.apply(0.1), 0.05);
        assert_eq!(k.apply(0.4), 0.3);
        assert_eq!(k.apply(0.8), 0.9);
    }

    #[test]
    fn between_knots_is_linear() {
        let k = knots(&[0.1, 0.4, 0.8], &[0.05, 0.3, 0.9]);
        assert!((k.apply(0.25) - 0.175).abs() < 1e-15);
        assert!((k.apply(0.7) - 0.75).abs() < 1e-15);
    }

    #[test]
    fn outside_the_range_is_clamped_to_the_end_values() {
        let k = knots(&[0.1, 0.4, 0.8], &[0.05, 0.3, 0.9]);
        assert_eq!(k.apply(0.0), 0.05);
        assert_eq!(k.apply(-1.0), 0.05);
        assert_eq!(k.apply(0.95), 0.9);
        assert_eq!(k.apply(1.0), 0.9);
        let one = knots(&[0.5], &[0.2]);
        assert_eq!(one.apply(0.1), 0.2);
        assert_eq!(one.apply(0.9), 0.2);
    }

    #[test]
    fn a_flat_step_between_equal_values_stays_flat() {
        let k = knots(&[0.0, 0.2, 0.6, 1.0], &[0.1, 0.1, 0.1, 0.7]);
        assert_eq!(k.apply(0.4), 0.1);
        assert!((k.apply(0.8) - 0.4).abs() < 1e-15);
    }

    #[test]
    fn calibrated_classes_are_renormalised_to_sum_one() {
        let maps = ClassMaps([
            knots(&[0.0, 1.0], &[0.0, 0.5]),
            knots(&[0.0, 1.0], &[0.0, 1.0]),
            knots(&[0.0, 1.0], &[0.0, 0.25]),
        ]);
        let c = maps.apply([0.4, 0.4, 0.2]);
        // 0.2, 0.4, 0.05 -> / 0.65
        let want = [0.2 / 0.65, 0.4 / 0.65, 0.05 / 0.65];
        for (a, b) in c.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{c:?}");
        }
        assert!(!maps.is_identity());
    }

    #[test]
    fn calibrated_values_summing_to_zero_fall_back_to_the_raw_probabilities() {
        let zero = || knots(&[0.0, 1.0], &[0.0, 0.0]);
        let maps = ClassMaps([zero(), zero(), zero()]);
        assert_eq!(maps.apply([0.2, 0.3, 0.5]), [0.2, 0.3, 0.5]);
    }

    #[test]
    fn identity_maps_are_recognised() {
        let id = || knots(&[0.0, 1.0], &[0.0, 1.0]);
        assert!(ClassMaps([id(), id(), id()]).is_identity());
    }

    #[test]
    fn malformed_maps_are_refused_at_parse() {
        let parse = |s: &str| serde_json::from_str::<ClassMaps>(s);
        assert!(parse(r#"[{"x":[0,1],"y":[0,1]},{"x":[0,1],"y":[0,1]}]"#).is_err());
        assert!(parse(
            r#"[{"x":[0.5,0.5],"y":[0,1]},{"x":[0,1],"y":[0,1]},{"x":[0,1],"y":[0,1]}]"#
        )
        .is_err());
        assert!(
            parse(r#"[{"x":[0,1],"y":[0,1.5]},{"x":[0,1],"y":[0,1]},{"x":[0,1],"y":[0,1]}]"#)
                .is_err()
        );
        assert!(
            parse(r#"[{"x":[0,1],"y":[0]},{"x":[0,1],"y":[0,1]},{"x":[0,1],"y":[0,1]}]"#).is_err()
        );
        assert!(
            parse(r#"[{"x":[0,1],"y":[0,1]},{"x":[0,1],"y":[0,1]},{"x":[0,1],"y":[0,1]}]"#).is_ok()
        );
    }
}
