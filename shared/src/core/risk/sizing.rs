//! Stop, target and share count of a long entry.
//!
//! Levels (the resolution of the seed's contradiction, see `docs/risk.md`):
//! - stop distance `s = clamp(k × volatility_20d, min_stop, max_stop)`: 2 daily standard
//!   deviations, at least 2 % (outside a calm stock's noise), at most the seed's 5 %; a
//!   missing volatility (0 in warm-up, or not finite) uses the seed's 5 %;
//! - target distance `t = clamp(min_reward_risk × s, min_target, max_target)`: the
//!   smallest target that makes reward/risk 2, kept in the seed's +5..10 %.
//!
//! So `s` in [2.5 %, 5 %] gives `t = 2s` (reward/risk exactly 2) and `s` below 2.5 %
//! gives `t = 5 %` (reward/risk above 2).
//!
//! Size: `risk shares = equity × max_risk / (entry × s)`, `cap shares = equity ×
//! max_position / entry`, `cash shares = cash / entry`; shares = the floor of the
//! smallest. The floor allows 1e-9 share of rounding (so 400.0 computed as
//! 399.9999999999 stays 400).

use serde::{Deserialize, Serialize};

use super::RiskConfig;

/// Stop and target of an entry, as distances from the entry and as prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PriceLevels {
    /// Stop distance below the entry, a fraction (0.03 = 3 %).
    pub stop_pct: f64,
    /// Target distance above the entry, a fraction.
    pub target_pct: f64,
    pub stop: f64,
    pub target: f64,
    /// `target_pct / stop_pct`.
    pub reward_risk: f64,
}

/// Stop and target for a long entry at `entry` given the daily volatility.
pub fn price_levels(entry: f64, volatility_20d: f64, config: &RiskConfig) -> PriceLevels {
    let stop_pct = if volatility_20d > 0.0 && volatility_20d.is_finite() {
        (config.stop_volatility_multiple * volatility_20d)
            .max(config.min_stop_pct)
            .min(config.max_stop_pct)
    } else {
        config.max_stop_pct
    };
    let target_pct = (config.min_reward_risk * stop_pct)
        .max(config.min_target_pct)
        .min(config.max_target_pct);
    PriceLevels {
        stop_pct,
        target_pct,
        stop: entry * (1.0 - stop_pct),
        target: entry * (1.0 + target_pct),
        reward_risk: target_pct / stop_pct,
    }
}

/// Which limit set the share count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeLimit {
    /// The risk budget (`max_risk_pct` of equity lost at the stop).
    Risk,
    /// The position cap (`max_position_pct` of equity).
    PositionCap,
    /// The cash at hand.
    Cash,
}

/// The share count and what limited it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PositionSize {
    pub shares: u64,
    pub limited_by: SizeLimit,
}

/// Whole shares for an entry at `entry` with stop distance `stop_pct`. Expects positive
/// finite `entry` and `stop_pct` (the rules reject the others before sizing).
pub fn position_size(
    equity: f64,
    cash: f64,
    entry: f64,
    stop_pct: f64,
    config: &RiskConfig,
) -> PositionSize {
    let by_risk = equity * config.max_risk_pct / (entry * stop_pct);
    let by_cap = equity * config.max_position_pct / entry;
    let by_cash = cash.max(0.0) / entry;
    // Ties go to the first: the risk budget is the seed's primary formula.
    let (limit, limited_by) = [
        (by_risk, SizeLimit::Risk),
        (by_cap, SizeLimit::PositionCap),
        (by_cash, SizeLimit::Cash),
    ]
    .into_iter()
    .fold((f64::INFINITY, SizeLimit::Risk), |best, (n, why)| {
        if n < best.0 {
            (n, why)
        } else {
            best
        }
    });
    let shares = if limit.is_finite() && limit > 0.0 {
        (limit + 1e-9).floor() as u64
    } else {
        0
    };
    PositionSize { shares, limited_by }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_enough(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn risk_levels_scale_with_volatility_inside_the_seed_ranges() {
        let c = RiskConfig::default();
        // Median stock (σ 1.5 %): stop 3 %, target 6 %, R:R 2.
        let l = price_levels(50.0, 0.015, &c);
        assert!(close_enough(l.stop_pct, 0.03) && close_enough(l.target_pct, 0.06));
        assert!(close_enough(l.stop, 48.5) && close_enough(l.target, 53.0));
        assert_eq!(l.reward_risk, 2.0);
        // σ 2.5 % or more: the seed's 5 % stop and 10 % target.
        let l = price_levels(50.0, 0.04, &c);
        assert_eq!((l.stop_pct, l.target_pct, l.reward_risk), (0.05, 0.10, 2.0));
        // Calm stock (σ 0.5 %): the 2 % stop floor; the 5 % target floor: R:R 2.5.
        let l = price_levels(50.0, 0.005, &c);
        assert_eq!((l.stop_pct, l.target_pct), (0.02, 0.05));
        assert!(close_enough(l.reward_risk, 2.5));
        // σ exactly 1.25 %: stop 2.5 %, target exactly the 5 % floor, R:R exactly 2.
        let l = price_levels(50.0, 0.0125, &c);
        assert!(close_enough(l.target_pct, 0.05) && close_enough(l.reward_risk, 2.0));
    }

    #[test]
    fn risk_levels_without_volatility_use_the_seed_stop() {
        let c = RiskConfig::default();
        for v in [0.0, -0.01, f64::NAN, f64::INFINITY] {
            let l = price_levels(100.0, v, &c);
            assert_eq!((l.stop_pct, l.target_pct), (0.05, 0.10), "{v}");
        }
    }

    #[test]
    fn risk_sizing_worked_example_cap_binds() {
        // Equity 100 000, entry 50, stop 3 %: the risk budget (2 000) buys
        // 2 000 / (50 × 0.03) = 1 333.3 shares, the 20 % cap 20 000 / 50 = 400.
        let s = position_size(100_000.0, 100_000.0, 50.0, 0.03, &RiskConfig::default());
        assert_eq!(
            s,
            PositionSize {
                shares: 400,
                limited_by: SizeLimit::PositionCap
            }
        );
    }

    #[test]
    fn risk_sizing_risk_budget_binds_when_the_cap_is_wide() {
        let c = RiskConfig {
            max_position_pct: 0.5,
            ..RiskConfig::default()
        };
        // 2 000 / (50 × 0.05) = 800 shares = 40 % < 50 %.
        let s = position_size(100_000.0, 100_000.0, 50.0, 0.05, &c);
        assert_eq!(
            s,
            PositionSize {
                shares: 800,
                limited_by: SizeLimit::Risk
            }
        );
    }

    #[test]
    fn risk_sizing_cash_and_floor() {
        let c = RiskConfig::default();
        // 7 000 cash buys 140 shares at 50, fewer than the cap's 400.
        let s = position_size(100_000.0, 7_000.0, 50.0, 0.03, &c);
        assert_eq!(
            s,
            PositionSize {
                shares: 140,
                limited_by: SizeLimit::Cash
            }
        );
        // 20 000 / 30 = 666.67 → 666 (floor).
        assert_eq!(position_size(100_000.0, 1e9, 30.0, 0.03, &c).shares, 666);
        // Entry above the cap: 0 shares.
        assert_eq!(position_size(1_000.0, 1_000.0, 250.0, 0.03, &c).shares, 0);
        assert_eq!(position_size(1_000.0, -5.0, 10.0, 0.03, &c).shares, 0);
    }
}
