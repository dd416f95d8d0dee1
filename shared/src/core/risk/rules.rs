//! The risk rules, each a check that names what failed.
//!
//! Boundaries (the seed's words): confidence must be *above* 70 % (0.70 itself fails);
//! the drawdown may *reach* 15 % (entries stop above it); at most 5 open positions (a
//! 6th is refused, so a candidate arriving with 5 open fails); position ≤ 20 %, risk ≤
//! 2 %, reward/risk ≥ 2, stop ≤ 5 %, target in 5..10 % all inclusive. Values computed
//! by arithmetic (drawdown, percentages, ratios) are compared with a tolerance of
//! [`TOLERANCE`] so that a value equal to its limit in decimal is not failed by binary
//! rounding; confidence is an input and is compared exactly.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use super::breaker::Breaker;
use super::sizing::{PriceLevels, SizeLimit};
use super::{Candidate, EntryGate, RiskConfig};
use crate::core::features::Label;
use crate::core::portfolio::PortfolioState;

/// Slack for computed values at a limit.
pub const TOLERANCE: f64 = 1e-9;

/// One failed rule, with the numbers that failed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rejection {
    /// Only BUY predictions open (long-only paper trading).
    NotABuy {
        predicted: Label,
    },
    ConfidenceTooLow {
        confidence: f64,
        min: f64,
    },
    /// The expected-value gate: the trade's expected net return is not above the minimum
    /// (or could not be computed: NaN).
    ExpectedReturnTooLow {
        expected_return: f64,
        min: f64,
    },
    InvalidEntryPrice {
        entry: f64,
    },
    AlreadyHeld {
        ticker: String,
    },
    TooManyPositions {
        open: usize,
        max: usize,
    },
    DrawdownBreaker {
        drawdown: f64,
        max: f64,
    },
    /// The drawdown breaker tripped on `tripped_on` and is still cooling off (or halted
    /// for good: `locked_until` is `None`), whatever the drawdown is now.
    BreakerLocked {
        tripped_on: NaiveDate,
        locked_until: Option<NaiveDate>,
    },
    NoEquity {
        equity: f64,
    },
    StopOutOfRange {
        stop_pct: f64,
        max: f64,
    },
    TargetOutOfRange {
        target_pct: f64,
        min: f64,
        max: f64,
    },
    RewardRiskTooLow {
        reward_risk: f64,
        min: f64,
    },
    PositionTooLarge {
        position_pct: f64,
        max: f64,
    },
    RiskTooLarge {
        risk_pct: f64,
        max: f64,
    },
    /// Sizing gave 0 whole shares; `limited_by` says which limit.
    ZeroShares {
        limited_by: SizeLimit,
        entry: f64,
    },
}

impl Rejection {
    /// A refusal by the entry gate itself (not a BUY, confidence or expected return too
    /// low), as opposed to the portfolio's and the sizing rules.
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            Rejection::NotABuy { .. }
                | Rejection::ConfidenceTooLow { .. }
                | Rejection::ExpectedReturnTooLow { .. }
        )
    }

    /// A stable short name for storage and counting.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotABuy { .. } => "not_a_buy",
            Rejection::ConfidenceTooLow { .. } => "confidence_too_low",
            Rejection::ExpectedReturnTooLow { .. } => "expected_return_too_low",
            Rejection::InvalidEntryPrice { .. } => "invalid_entry_price",
            Rejection::AlreadyHeld { .. } => "already_held",
            Rejection::TooManyPositions { .. } => "too_many_positions",
            Rejection::DrawdownBreaker { .. } => "drawdown_breaker",
            Rejection::BreakerLocked { .. } => "breaker_locked",
            Rejection::NoEquity { .. } => "no_equity",
            Rejection::StopOutOfRange { .. } => "stop_out_of_range",
            Rejection::TargetOutOfRange { .. } => "target_out_of_range",
            Rejection::RewardRiskTooLow { .. } => "reward_risk_too_low",
            Rejection::PositionTooLarge { .. } => "position_too_large",
            Rejection::RiskTooLarge { .. } => "risk_too_large",
            Rejection::ZeroShares { .. } => "zero_shares",
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotABuy { predicted } => {
                write!(
                    f,
                    "prediction is {}, only BUY opens a position",
                    predicted.name()
                )
            }
            Rejection::ConfidenceTooLow { confidence, min } => {
                write!(f, "confidence {confidence:.4} is not above {min:.2}")
            }
            Rejection::ExpectedReturnTooLow {
                expected_return,
                min,
            } => write!(
                f,
                "expected net return {} is not above {}",
                pct(*expected_return),
                pct(*min)
            ),
            Rejection::InvalidEntryPrice { entry } => {
                write!(f, "entry price {entry} is not a positive number")
            }
            Rejection::AlreadyHeld { ticker } => write!(f, "{ticker} is already held"),
            Rejection::TooManyPositions { open, max } => {
                write!(f, "{open} positions open, the maximum is {max}")
            }
            Rejection::DrawdownBreaker { drawdown, max } => write!(
                f,
                "drawdown {} from the equity peak is above {}: no new entries",
                pct(*drawdown),
                pct(*max)
            ),
            Rejection::BreakerLocked {
                tripped_on,
                locked_until: Some(until),
            } => write!(
                f,
                "the drawdown breaker tripped on {tripped_on}: no new entries through {until}"
            ),
            Rejection::BreakerLocked {
                tripped_on,
                locked_until: None,
            } => write!(
                f,
                "the drawdown breaker tripped on {tripped_on}: no new entries (permanent halt)"
            ),
            Rejection::NoEquity { equity } => write!(f, "equity {equity:.2} is not positive"),
            Rejection::StopOutOfRange { stop_pct, max } => write!(
                f,
                "stop {} below entry is outside (0, {}]",
                pct(*stop_pct),
                pct(*max)
            ),
            Rejection::TargetOutOfRange {
                target_pct,
                min,
                max,
            } => write!(
                f,
                "target {} above entry is outside [{}, {}]",
                pct(*target_pct),
                pct(*min),
                pct(*max)
            ),
            Rejection::RewardRiskTooLow { reward_risk, min } => {
                write!(f, "reward/risk {reward_risk:.2} is below {min:.2}")
            }
            Rejection::PositionTooLarge { position_pct, max } => write!(
                f,
                "position {} of equity is above {}",
                pct(*position_pct),
                pct(*max)
            ),
            Rejection::RiskTooLarge { risk_pct, max } => write!(
                f,
                "risk {} of equity is above {}",
                pct(*risk_pct),
                pct(*max)
            ),
            Rejection::ZeroShares { limited_by, entry } => {
                let why = match limited_by {
                    SizeLimit::Risk => "the risk budget",
                    SizeLimit::PositionCap => "the position cap",
                    SizeLimit::Cash => "the cash at hand",
                };
                write!(f, "{why} does not buy one share at {entry:.2}")
            }
        }
    }
}

/// The candidate's own rules, by the entry gate: the seed's (a BUY, confident enough) or
/// the expected-value gate (expected net return and P(target) high enough); and a usable
/// entry price.
pub fn check_signal(candidate: &Candidate, config: &RiskConfig) -> Vec<Rejection> {
    let mut out = Vec::new();
    match config.entry_gate {
        EntryGate::SeedConfidence => {
            if candidate.predicted != Label::Buy {
                out.push(Rejection::NotABuy {
                    predicted: candidate.predicted,
                });
            }
            // Strictly above; NaN fails.
            let confident = candidate.confidence > config.min_confidence;
            if !confident {
                out.push(Rejection::ConfidenceTooLow {
                    confidence: candidate.confidence,
                    min: config.min_confidence,
                });
            }
        }
        EntryGate::ExpectedValue {
            min_expected_return,
            min_target_probability,
            ..
        } => {
            let ev = candidate.expected_return.unwrap_or(f64::NAN);
            // Strictly above; NaN (no expected return) fails.
            if ev.is_nan() || ev <= min_expected_return {
                out.push(Rejection::ExpectedReturnTooLow {
                    expected_return: ev,
                    min: min_expected_return,
                });
            }
            if candidate.confidence.is_nan() || candidate.confidence < min_target_probability {
                out.push(Rejection::ConfidenceTooLow {
                    confidence: candidate.confidence,
                    min: min_target_probability,
                });
            }
        }
    }
    if !(candidate.entry_price > 0.0 && candidate.entry_price.is_finite()) {
        out.push(Rejection::InvalidEntryPrice {
            entry: candidate.entry_price,
        });
    }
    out
}

/// The portfolio's rules: not held yet, a free slot, the drawdown breaker (the drawdown
/// now, or a lock from an earlier trip: [`super::breaker`]), equity.
pub fn check_portfolio(
    candidate: &Candidate,
    state: &PortfolioState,
    config: &RiskConfig,
) -> Vec<Rejection> {
    let mut out = Vec::new();
    if state.holds(&candidate.ticker) {
        out.push(Rejection::AlreadyHeld {
            ticker: candidate.ticker.clone(),
        });
    }
    if state.positions.len() >= config.max_positions {
        out.push(Rejection::TooManyPositions {
            open: state.positions.len(),
            max: config.max_positions,
        });
    }
    let drawdown = state.drawdown_at_marks();
    if drawdown > config.max_drawdown + TOLERANCE {
        out.push(Rejection::DrawdownBreaker {
            drawdown,
            max: config.max_drawdown,
        });
    } else if state.breaker.locks(candidate.date) {
        // Tripped earlier and cooling off: the drawdown has come back within the limit.
        if let Breaker::Locked {
            tripped_on,
            locked_until,
        } = state.breaker
        {
            out.push(Rejection::BreakerLocked {
                tripped_on,
                locked_until,
            });
        }
    }
    let equity = state.equity_at_marks();
    let has_equity = equity > 0.0; // NaN fails
    if !has_equity {
        out.push(Rejection::NoEquity { equity });
    }
    out
}

/// The stop and target rules: stop in (0, max_stop], target in [min_target,
/// max_target], reward/risk ≥ min_reward_risk.
pub fn check_levels(levels: &PriceLevels, config: &RiskConfig) -> Vec<Rejection> {
    let mut out = Vec::new();
    let stop_ok = levels.stop_pct > 0.0 && levels.stop_pct <= config.max_stop_pct + TOLERANCE;
    if !stop_ok {
        out.push(Rejection::StopOutOfRange {
            stop_pct: levels.stop_pct,
            max: config.max_stop_pct,
        });
    }
    let target_ok = levels.target_pct >= config.min_target_pct - TOLERANCE
        && levels.target_pct <= config.max_target_pct + TOLERANCE;
    if !target_ok {
        out.push(Rejection::TargetOutOfRange {
            target_pct: levels.target_pct,
            min: config.min_target_pct,
            max: config.max_target_pct,
        });
    }
    let reward_ok = levels.reward_risk >= config.min_reward_risk - TOLERANCE;
    if !reward_ok {
        out.push(Rejection::RewardRiskTooLow {
            reward_risk: levels.reward_risk,
            min: config.min_reward_risk,
        });
    }
    out
}

/// The size rules on a sized plan: at least one share, position and risk within their
/// caps (sizing keeps them there; the check guards a plan built by other means).
pub fn check_size(
    shares: u64,
    limited_by: SizeLimit,
    entry: f64,
    position_pct: f64,
    risk_pct: f64,
    config: &RiskConfig,
) -> Vec<Rejection> {
    let mut out = Vec::new();
    if shares == 0 {
        out.push(Rejection::ZeroShares { limited_by, entry });
    }
    if position_pct > config.max_position_pct + TOLERANCE {
        out.push(Rejection::PositionTooLarge {
            position_pct,
            max: config.max_position_pct,
        });
    }
    if risk_pct > config.max_risk_pct + TOLERANCE {
        out.push(Rejection::RiskTooLarge {
            risk_pct,
            max: config.max_risk_pct,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(stop_pct: f64, target_pct: f64) -> PriceLevels {
        PriceLevels {
            stop_pct,
            target_pct,
            stop: 100.0 * (1.0 - stop_pct),
            target: 100.0 * (1.0 + target_pct),
            reward_risk: target_pct / stop_pct,
        }
    }

    fn codes(r: &[Rejection]) -> Vec<&'static str> {
        r.iter().map(Rejection::code).collect()
    }

    #[test]
    fn risk_rules_the_seed_contradiction_a_5_pct_stop_needs_a_10_pct_target() {
        let c = RiskConfig::default();
        // The seed read literally: stop 5 %, any target below 10 % fails R:R ≥ 2.
        for target in [0.05, 0.07, 0.09, 0.0999] {
            assert_eq!(
                codes(&check_levels(&levels(0.05, target), &c)),
                ["reward_risk_too_low"],
                "{target}"
            );
        }
        assert!(check_levels(&levels(0.05, 0.10), &c).is_empty());
    }

    #[test]
    fn risk_rules_level_boundaries() {
        let c = RiskConfig::default();
        assert!(
            check_levels(&levels(0.025, 0.05), &c).is_empty(),
            "R:R exactly 2"
        );
        assert_eq!(
            codes(&check_levels(&levels(0.0251, 0.05), &c)),
            ["reward_risk_too_low"]
        );
        assert_eq!(
            codes(&check_levels(&levels(0.0501, 0.1002), &c)),
            ["stop_out_of_range", "target_out_of_range"]
        );
        assert_eq!(
            codes(&check_levels(&levels(0.02, 0.0499), &c)),
            ["target_out_of_range"]
        );
        assert_eq!(
            codes(&check_levels(&levels(0.0, 0.05), &c)),
            ["stop_out_of_range"]
        );
    }

    #[test]
    fn risk_rules_size_boundaries() {
        let c = RiskConfig::default();
        let ok = check_size(10, SizeLimit::Risk, 50.0, 0.20, 0.02, &c);
        assert!(ok.is_empty(), "20 % and 2 % exactly are allowed");
        let over = check_size(10, SizeLimit::Risk, 50.0, 0.2001, 0.0201, &c);
        assert_eq!(codes(&over), ["position_too_large", "risk_too_large"]);
        let zero = check_size(0, SizeLimit::PositionCap, 250.0, 0.0, 0.0, &c);
        assert_eq!(
            zero[0].to_string(),
            "the position cap does not buy one share at 250.00"
        );
    }

    #[test]
    fn risk_rules_read_as_sentences_and_serialise_with_their_rule() {
        let r = Rejection::ConfidenceTooLow {
            confidence: 0.7,
            min: 0.7,
        };
        assert_eq!(r.to_string(), "confidence 0.7000 is not above 0.70");
        let r = Rejection::DrawdownBreaker {
            drawdown: 0.1501,
            max: 0.15,
        };
        assert_eq!(
            r.to_string(),
            "drawdown 15.01 % from the equity peak is above 15.00 %: no new entries"
        );
        let json = serde_json::to_value(Rejection::TooManyPositions { open: 5, max: 5 }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"rule": "too_many_positions", "open": 5, "max": 5})
        );
    }
}
