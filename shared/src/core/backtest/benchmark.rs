//! Buy-and-hold of one ticker (SPY) over the test window, the baseline every strategy is
//! read against: the starting cash buys fractional shares at the first trading day's
//! open (same slippage and commission as the strategy's entries), marked at each close;
//! a day without a bar keeps the last close. Never sold (no exit costs), like the
//! strategy's equity, which also marks open positions without exit costs.

use chrono::NaiveDate;

use super::engine::{BacktestConfig, EquityPoint};
use crate::core::DailyBar;

/// The buy-and-hold equity curve over the config's trading days; None when `bars` have
/// no bar on or after the first trading day.
pub fn buy_and_hold(bars: &[DailyBar], config: &BacktestConfig) -> Option<Vec<EquityPoint>> {
    let days: Vec<NaiveDate> = config.trading_days();
    let start = *days.first()?;
    let first = bars.partition_point(|b| b.date < start);
    let entry = bars.get(first)?;
    if entry.date > config.to {
        return None;
    }
    let paid = config.costs.buy_price(entry.open);
    let per_share = paid * (1.0 + config.costs.commission_bps / 10_000.0);
    let shares = config.starting_cash / per_share;
    let cash = config.starting_cash - shares * per_share;
    let mut i = first;
    let mut last_close = None;
    Some(
        days.iter()
            .map(|&day| {
                while i < bars.len() && bars[i].date <= day {
                    if bars[i].date >= entry.date {
                        last_close = Some(bars[i].close);
                    }
                    i += 1;
                }
                let held = last_close.is_some();
                let value = last_close.map_or(config.starting_cash, |c| cash + shares * c);
                EquityPoint {
                    date: day,
                    equity: value,
                    cash: if held { cash } else { config.starting_cash },
                    open_positions: usize::from(held),
                    exposed: held,
                }
            })
            .collect(),
    )
}
