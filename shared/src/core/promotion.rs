//! Which model serves: a retrained bundle replaces the current one only if it trades
//! better on the same recent window.
//!
//! Both bundles are re-scored by the backtester (the same engine, risk manager and exits
//! as live) over one window of stored bars and features that neither was trained on:
//! the candidate's calibration slice, the most recent ~3 months before its retrain date
//! (the current bundle was trained earlier still). The candidate saw that slice only to
//! fit its calibration, which is the small advantage this rule accepts to judge on
//! recent data; comparing validation metrics of different windows (the old rule) judged
//! nothing.
//!
//! The metric is the strategy's net total return over the window (trades × expectancy,
//! costs included): what a trader following each model would have earned. Rules
//! ([`decide`]):
//! 1. no current bundle: promote;
//! 2. the current bundle made at least [`PromotionRule::min_trades`] trades on the
//!    window and the candidate fewer: keep (an idle model is not a better one);
//! 3. both made fewer than `min_trades`: neither is measurable; promote (the fresher
//!    model, trained on more recent data, wins the tie);
//! 4. otherwise promote only if the candidate's net return is strictly higher.

use serde::Serialize;

/// A bundle's strategy on the scoring window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredBundle {
    pub version: String,
    /// Closed trades in the window.
    pub trades: usize,
    /// Net total return of the strategy over the window (a fraction of the start).
    pub net_return: f64,
    /// Mean net return per closed trade (0 without trades).
    pub avg_trade: f64,
}

/// The rule's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PromotionRule {
    /// Fewer closed trades than this on the window is "not measurable" (5).
    pub min_trades: usize,
}

impl Default for PromotionRule {
    fn default() -> Self {
        Self { min_trades: 5 }
    }
}

/// What to do with a candidate, and why (printed and logged by the caller).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PromotionDecision {
    Promote { reason: String },
    Keep { reason: String },
}

impl PromotionDecision {
    pub fn promotes(&self) -> bool {
        matches!(self, PromotionDecision::Promote { .. })
    }

    pub fn reason(&self) -> &str {
        match self {
            PromotionDecision::Promote { reason } | PromotionDecision::Keep { reason } => reason,
        }
    }
}

fn describe(b: &ScoredBundle) -> String {
    format!(
        "{} {:+.2} % in {} trades (avg {:+.3} %)",
        b.version,
        b.net_return * 100.0,
        b.trades,
        b.avg_trade * 100.0
    )
}

/// The rule in the module docs. A non-finite net return never wins.
pub fn decide(
    candidate: &ScoredBundle,
    current: Option<&ScoredBundle>,
    rule: &PromotionRule,
) -> PromotionDecision {
    let Some(current) = current else {
        return PromotionDecision::Promote {
            reason: format!("no current bundle; {}", describe(candidate)),
        };
    };
    let measurable = |b: &ScoredBundle| b.trades >= rule.min_trades && b.net_return.is_finite();
    match (measurable(candidate), measurable(current)) {
        (false, true) => PromotionDecision::Keep {
            reason: format!(
                "candidate {} has fewer than {} trades; current {}",
                describe(candidate),
                rule.min_trades,
                describe(current)
            ),
        },
        (false, false) => PromotionDecision::Promote {
            reason: format!(
                "neither has {} trades on the window (candidate {}, current {}): the fresher \
                 model wins",
                rule.min_trades,
                describe(candidate),
                describe(current)
            ),
        },
        (true, false) => PromotionDecision::Promote {
            reason: format!(
                "candidate {} trades where current {} does not",
                describe(candidate),
                describe(current)
            ),
        },
        (true, true) if candidate.net_return > current.net_return => PromotionDecision::Promote {
            reason: format!(
                "candidate {} beats current {}",
                describe(candidate),
                describe(current)
            ),
        },
        (true, true) => PromotionDecision::Keep {
            reason: format!(
                "candidate {} does not beat current {}",
                describe(candidate),
                describe(current)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(version: &str, trades: usize, net_return: f64) -> ScoredBundle {
        ScoredBundle {
            version: version.into(),
            trades,
            net_return,
            avg_trade: if trades > 0 {
                net_return / trades as f64
            } else {
                0.0
            },
        }
    }

    #[test]
    fn promotion_first_bundle_is_promoted() {
        assert!(decide(&scored("new", 0, 0.0), None, &PromotionRule::default()).promotes());
    }

    #[test]
    fn promotion_needs_a_strictly_better_net_return() {
        let rule = PromotionRule::default();
        let current = scored("old", 8, 0.020);
        assert!(decide(&scored("new", 9, 0.021), Some(&current), &rule).promotes());
        let tie = decide(&scored("new", 9, 0.020), Some(&current), &rule);
        assert!(!tie.promotes(), "{tie:?}");
        assert!(!decide(&scored("new", 20, -0.01), Some(&current), &rule).promotes());
    }

    #[test]
    fn promotion_an_idle_candidate_does_not_replace_a_trading_model() {
        let rule = PromotionRule::default();
        // 4 trades is below the minimum of 5 even with a better return.
        let d = decide(&scored("new", 4, 0.05), Some(&scored("old", 5, 0.0)), &rule);
        assert!(!d.promotes());
        assert!(d.reason().contains("fewer than 5 trades"), "{}", d.reason());
    }

    #[test]
    fn promotion_unmeasurable_on_both_sides_goes_to_the_fresher_model() {
        let rule = PromotionRule::default();
        let d = decide(
            &scored("new", 1, -0.01),
            Some(&scored("old", 2, 0.03)),
            &rule,
        );
        assert!(d.promotes());
        let d = decide(
            &scored("new", 6, -0.01),
            Some(&scored("old", 2, 0.03)),
            &rule,
        );
        assert!(
            d.promotes(),
            "a measurable candidate beats an unmeasurable current"
        );
    }

    #[test]
    fn promotion_a_non_finite_score_never_wins() {
        let rule = PromotionRule::default();
        let d = decide(
            &scored("new", 9, f64::NAN),
            Some(&scored("old", 9, 0.0)),
            &rule,
        );
        assert!(!d.promotes());
    }
}
