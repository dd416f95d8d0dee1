//! The risk manager at each rule's boundary.

use super::*;
use crate::core::portfolio::Position;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()
}

/// A BUY at 50 with confidence 0.80 and daily volatility 1.5 % (stop 3 %, target 6 %).
fn buy(ticker: &str) -> Candidate {
    Candidate {
        ticker: ticker.into(),
        date: day(),
        entry_price: 50.0,
        confidence: 0.80,
        predicted: Label::Buy,
        volatility_20d: 0.015,
        expected_return: None,
    }
}

/// `n` open positions (tickers H0, H1, …) worth 1 000 each, the rest of 100 000 in cash.
fn holding(n: usize) -> PortfolioState {
    let mut state = PortfolioState::new(100_000.0);
    for i in 0..n {
        state.cash -= 1_000.0;
        state.positions.push(Position {
            ticker: format!("H{i}"),
            shares: 10,
            entry_date: day(),
            entry_price: 100.0,
            entry_commission: 0.0,
            stop: 95.0,
            target: 110.0,
            mark: 100.0,
        });
    }
    state
}

fn codes(d: &Decision) -> Vec<&'static str> {
    d.rejections().iter().map(Rejection::code).collect()
}

fn accepted(d: &Decision) -> &TradePlan {
    d.plan()
        .unwrap_or_else(|| panic!("rejected: {:?}", d.rejections()))
}

#[test]
fn risk_worked_example_the_position_cap_binds() {
    let c = RiskConfig::default();
    let plan = evaluate(&buy("ABC"), &holding(0), &c);
    let p = accepted(&plan);
    assert!((p.stop - 48.5).abs() < 1e-9 && (p.target - 53.0).abs() < 1e-9);
    assert_eq!(p.reward_risk, 2.0);
    // Risk budget 2 000 / (50 × 3 %) = 1 333 shares; 20 % cap = 400 shares.
    assert_eq!((p.shares, p.limited_by), (400, SizeLimit::PositionCap));
    assert!((p.position_pct - 0.20).abs() < 1e-12);
    assert!(
        (p.risk_pct - 0.006).abs() < 1e-12,
        "0.6 %: 400 × 1.50 / 100 000"
    );
}

#[test]
fn risk_budget_binds_at_exactly_2_pct_when_the_cap_is_wider() {
    let c = RiskConfig {
        max_position_pct: 0.50,
        ..RiskConfig::default()
    };
    let high_vol = Candidate {
        volatility_20d: 0.03, // stop 5 %, target 10 %
        ..buy("ABC")
    };
    let plan = evaluate(&high_vol, &holding(0), &c);
    let p = accepted(&plan);
    // 2 000 / (50 × 5 %) = 800 shares = 40 % of equity, under the 50 % cap.
    assert_eq!((p.shares, p.limited_by), (800, SizeLimit::Risk));
    assert!((p.risk_pct - 0.02).abs() < 1e-12);
    assert!((p.position_pct - 0.40).abs() < 1e-12);
}

#[test]
fn risk_confidence_must_be_above_70_pct() {
    let c = RiskConfig::default();
    let at = |confidence| Candidate {
        confidence,
        ..buy("ABC")
    };
    assert_eq!(
        codes(&evaluate(&at(0.70), &holding(0), &c)),
        ["confidence_too_low"]
    );
    assert!(evaluate(&at(0.7001), &holding(0), &c).plan().is_some());
    assert_eq!(
        codes(&evaluate(&at(f64::NAN), &holding(0), &c)),
        ["confidence_too_low"]
    );
}

#[test]
fn risk_at_most_5_open_positions() {
    let c = RiskConfig::default();
    assert!(evaluate(&buy("ABC"), &holding(4), &c).plan().is_some());
    assert_eq!(
        codes(&evaluate(&buy("ABC"), &holding(5), &c)),
        ["too_many_positions"]
    );
}

#[test]
fn risk_drawdown_breaker_at_15_pct() {
    let c = RiskConfig::default();
    let with_equity = |cash: f64| PortfolioState {
        cash,
        positions: Vec::new(),
        peak_equity: 100_000.0,
        realized_pnl: cash - 100_000.0,
        breaker: Default::default(),
    };
    // Exactly 15 % below the peak: still trading (the seed stops *above* 15 %).
    assert!(evaluate(&buy("ABC"), &with_equity(85_000.0), &c)
        .plan()
        .is_some());
    let d = evaluate(&buy("ABC"), &with_equity(84_990.0), &c);
    assert_eq!(codes(&d), ["drawdown_breaker"]);
    assert_eq!(
        d.rejections()[0].to_string(),
        "drawdown 15.01 % from the equity peak is above 15.00 %: no new entries"
    );
}

#[test]
fn risk_drawdown_breaker_reads_the_marked_portfolio() {
    let c = RiskConfig::default();
    let mut state = holding(1); // 99 000 cash + H0 at 100 × 10
    state.positions[0].shares = 1_000; // H0 worth 100 000 at the mark: equity 199 000
    state.peak_equity = 199_000.0;
    let marks = |p: f64| [("H0".to_string(), p)].into_iter().collect();
    state.mark_to_market(&marks(70.0)); // equity 169 000: 15.08 % down
    assert_eq!(
        codes(&evaluate(&buy("ABC"), &state, &c)),
        ["drawdown_breaker"]
    );
    state.mark_to_market(&marks(71.0)); // 170 000: 14.57 % down
    assert!(evaluate(&buy("ABC"), &state, &c).plan().is_some());
}

#[test]
fn risk_reward_risk_rejected_when_the_target_cap_binds() {
    // Asking for R:R 2.5 with a 5 % stop needs a 12.5 % target: the 10 % cap stops it.
    let c = RiskConfig {
        min_reward_risk: 2.5,
        ..RiskConfig::default()
    };
    let volatile = Candidate {
        volatility_20d: 0.04,
        ..buy("ABC")
    };
    assert_eq!(
        codes(&evaluate(&volatile, &holding(0), &c)),
        ["reward_risk_too_low"]
    );
    // A calmer stock (stop 3 %, target 7.5 %) meets it.
    assert!(evaluate(&buy("ABC"), &holding(0), &c).plan().is_some());
}

#[test]
fn risk_every_failed_rule_is_named() {
    let c = RiskConfig::default();
    let mut state = holding(5);
    state.positions[0].ticker = "ABC".into();
    let bad = Candidate {
        predicted: Label::Hold,
        confidence: 0.5,
        ..buy("ABC")
    };
    assert_eq!(
        codes(&evaluate(&bad, &state, &c)),
        [
            "not_a_buy",
            "confidence_too_low",
            "already_held",
            "too_many_positions"
        ]
    );
    let no_price = Candidate {
        entry_price: 0.0,
        ..buy("XYZ")
    };
    assert_eq!(
        codes(&evaluate(&no_price, &holding(0), &c)),
        ["invalid_entry_price"]
    );
}

#[test]
fn risk_zero_shares_is_a_rejection_with_its_reason() {
    let c = RiskConfig::default();
    // 20 % of 1 000 is 200: one share at 250 does not fit.
    let d = evaluate(
        &Candidate {
            entry_price: 250.0,
            ..buy("BRK")
        },
        &PortfolioState::new(1_000.0),
        &c,
    );
    assert_eq!(codes(&d), ["zero_shares"]);
    // Cash short: 1 000 equity all in a position, no cash left.
    let mut state = holding(1);
    state.cash = 0.0;
    state.positions[0].shares = 1_000;
    state.peak_equity = 100_000.0;
    let d = evaluate(&buy("ABC"), &state, &c);
    assert_eq!(
        d.rejections(),
        [Rejection::ZeroShares {
            limited_by: SizeLimit::Cash,
            entry: 50.0
        }]
    );
}

#[test]
fn risk_cash_limits_the_size() {
    let c = RiskConfig::default();
    // Equity 100 000: 7 000 cash and 4 positions worth 23 250 each.
    let mut state = holding(4);
    state.cash = 7_000.0;
    for p in &mut state.positions {
        p.mark = 2_325.0;
    }
    assert_eq!(state.equity_at_marks(), 100_000.0);
    let plan = evaluate(&buy("ABC"), &state, &c);
    let p = accepted(&plan);
    assert_eq!((p.shares, p.limited_by), (140, SizeLimit::Cash));
}

#[test]
fn risk_decide_day_ranks_by_confidence_then_ticker_and_fills_the_slots() {
    let c = RiskConfig::default();
    let with = |ticker: &str, confidence| Candidate {
        confidence,
        ..buy(ticker)
    };
    let candidates = [
        with("CCC", 0.75),
        with("BBB", 0.90),
        with("AAA", 0.75),
        with("DDD", 0.65),
        with("BBB", 0.80),
    ];
    let out = decide_day(&candidates, &holding(3), &c);
    let order: Vec<(&str, Vec<&str>)> = out
        .iter()
        .map(|d| (d.candidate.ticker.as_str(), codes(&d.decision)))
        .collect();
    assert_eq!(
        order,
        [
            ("BBB", vec![]),               // 0.90: 4th position
            ("BBB", vec!["already_held"]), // 0.80: the same ticker again
            ("AAA", vec![]),               // 0.75, A before C: 5th position
            ("CCC", vec!["too_many_positions"]),
            ("DDD", vec!["confidence_too_low", "too_many_positions"]),
        ]
    );
    // The caller's state is untouched.
    assert_eq!(holding(3).positions.len(), 3);
}

#[test]
fn risk_decide_day_stops_when_the_cash_runs_out() {
    let c = RiskConfig::default();
    // 50 000 equity all cash: each plan takes 20 % (10 000 = 200 shares at 50).
    let mut state = PortfolioState::new(50_000.0);
    state.cash = 25_000.0;
    state.positions.push(Position {
        ticker: "OLD".into(),
        shares: 250,
        entry_date: day(),
        entry_price: 100.0,
        entry_commission: 0.0,
        stop: 95.0,
        target: 110.0,
        mark: 100.0,
    });
    let out = decide_day(&[buy("AAA"), buy("BBB"), buy("CCC")], &state, &c);
    let shares: Vec<Option<u64>> = out
        .iter()
        .map(|d| d.decision.plan().map(|p| p.shares))
        .collect();
    // 25 000 cash: 200 + 200 shares, then 5 000 left buys 100.
    assert_eq!(shares, [Some(200), Some(200), Some(100)]);
    assert_eq!(out[2].decision.plan().unwrap().limited_by, SizeLimit::Cash);
}

#[test]
fn risk_decision_serialises_for_the_signal_record() {
    let d = evaluate(
        &Candidate {
            confidence: 0.6,
            ..buy("ABC")
        },
        &holding(0),
        &RiskConfig::default(),
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["decision"], "reject");
    assert_eq!(json["detail"][0]["rule"], "confidence_too_low");
}
