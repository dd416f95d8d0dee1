//! Sentiment of a text: VADER, exactly as Python vaderSentiment 3.3.2 scores it, and a
//! market mode that knows WSB and finance words.
//!
//! ```
//! use shared::core::sentiment::SentimentAnalyzer;
//!
//! let plain = SentimentAnalyzer::plain().polarity_scores("Tendies incoming!!!!");
//! assert_eq!(plain.compound, 0.0); // VADER has no idea what tendies are
//! let market = SentimentAnalyzer::market().polarity_scores("Tendies incoming!!!!");
//! assert!(market.compound > 0.5);
//! ```
//!
//! - [`SentimentAnalyzer::plain`] is a port of vaderSentiment 3.3.2's
//!   `SentimentIntensityAnalyzer` ([`vader`] keeps the Python's structure and names),
//!   equal to it on all four scores (`shared/tests/vader_parity.rs` replays a golden file
//!   of real Reddit and finance texts scored by Python; see `docs/sentiment.md`).
//! - [`SentimentAnalyzer::market`] is the same rules with the market lexicon
//!   ([`market`]): terms such as "tendies", "bagholder", "to the moon", "💎 🙌",
//!   "downgrade", each with a documented valence.
//!
//! Both analyzers are built once per process (lexicons parsed into hash maps on first
//! use) and are `Sync`: share the `&'static` reference across threads.

mod lexicon;
pub mod market;
mod pystr;
pub mod vader;

use std::sync::OnceLock;

use serde::Serialize;

use lexicon::Lexicons;

/// VADER's scores of one text, rounded as Python's `polarity_scores` rounds them
/// (compound to 4 decimals, the proportions to 3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SentimentScores {
    /// Normalised sum of the valences, in [-1, 1]: the one number to use. VADER calls a
    /// text positive above 0.05 and negative below -0.05.
    pub compound: f64,
    /// Share of the text's weight that is positive, in [0, 1].
    pub pos: f64,
    /// Share that is neutral.
    pub neu: f64,
    /// Share that is negative.
    pub neg: f64,
}

/// A VADER analyzer: the lexicons (parsed once) plus the mode's additions.
pub struct SentimentAnalyzer {
    lexicons: Lexicons,
}

impl SentimentAnalyzer {
    /// Exactly Python vaderSentiment 3.3.2's `SentimentIntensityAnalyzer()`.
    pub fn plain() -> &'static SentimentAnalyzer {
        static PLAIN: OnceLock<SentimentAnalyzer> = OnceLock::new();
        PLAIN.get_or_init(|| SentimentAnalyzer {
            lexicons: Lexicons::plain(),
        })
    }

    /// Plain VADER plus the market lexicon, its phrases and emoji (see [`market`]).
    pub fn market() -> &'static SentimentAnalyzer {
        static MARKET: OnceLock<SentimentAnalyzer> = OnceLock::new();
        MARKET.get_or_init(|| SentimentAnalyzer {
            lexicons: Lexicons::market(),
        })
    }

    /// `polarity_scores(text)`.
    pub fn polarity_scores(&self, text: &str) -> SentimentScores {
        vader::polarity_scores(&self.lexicons, text)
    }

    /// Whether this is the market-mode analyzer.
    pub fn is_market(&self) -> bool {
        self.lexicons.market.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(analyzer: &SentimentAnalyzer, text: &str) -> [f64; 4] {
        let s = analyzer.polarity_scores(text);
        [s.compound, s.pos, s.neu, s.neg]
    }

    /// vaderSentiment 3.3.2's own `__main__` examples, as Python 3.11 scores them
    /// ([compound, pos, neu, neg]).
    #[test]
    fn plain_equals_python_on_the_upstream_examples() {
        let cases: &[(&str, [f64; 4])] = &[
            ("VADER is smart, handsome, and funny.", [0.8316, 0.746, 0.254, 0.0]),
            ("VADER is smart, handsome, and funny!", [0.8439, 0.752, 0.248, 0.0]),
            ("VADER is very smart, handsome, and funny.", [0.8545, 0.701, 0.299, 0.0]),
            ("VADER is VERY SMART, handsome, and FUNNY.", [0.9227, 0.754, 0.246, 0.0]),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", [0.9342, 0.767, 0.233, 0.0]),
            (
                "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
                [0.9469, 0.706, 0.294, 0.0],
            ),
            ("VADER is not smart, handsome, nor funny.", [-0.7424, 0.0, 0.354, 0.646]),
            ("The book was good.", [0.4404, 0.492, 0.508, 0.0]),
            ("At least it isn't a horrible book.", [0.431, 0.322, 0.678, 0.0]),
            ("The book was only kind of good.", [0.3832, 0.303, 0.697, 0.0]),
            (
                "The plot was good, but the characters are uncompelling and the dialog is not great.",
                [-0.7042, 0.094, 0.579, 0.327],
            ),
            ("Today SUX!", [-0.5461, 0.0, 0.221, 0.779]),
            ("Today only kinda sux! But I'll get by, lol", [0.5249, 0.317, 0.556, 0.127]),
            ("Make sure you :) or :D today!", [0.8633, 0.706, 0.294, 0.0]),
            ("Catch utf-8 emoji such as 💘 and 💋 and 😁", [0.875, 0.417, 0.583, 0.0]),
            ("Not bad at all", [0.431, 0.487, 0.513, 0.0]),
            ("Sentiment analysis has never been good.", [-0.3412, 0.0, 0.675, 0.325]),
            ("Sentiment analysis has never been this good!", [0.5672, 0.379, 0.621, 0.0]),
            ("Most automated sentiment analysis tools are shit.", [-0.5574, 0.0, 0.625, 0.375]),
            ("With VADER, sentiment analysis is the shit!", [0.6476, 0.417, 0.583, 0.0]),
            ("Other sentiment analysis tools can be quite bad.", [-0.5849, 0.0, 0.649, 0.351]),
            ("On the other hand, VADER is quite bad ass", [0.802, 0.577, 0.423, 0.0]),
            ("VADER is such a badass!", [0.4003, 0.402, 0.598, 0.0]),
            ("Without a doubt, excellent idea.", [0.7013, 0.659, 0.341, 0.0]),
            (
                "Roger Dodger is one of the most compelling variations on this theme.",
                [0.2944, 0.166, 0.834, 0.0],
            ),
            (
                "Roger Dodger is at least compelling as a variation on the theme.",
                [0.2263, 0.147, 0.853, 0.0],
            ),
            (
                "Roger Dodger is one of the least compelling variations on this theme.",
                [-0.1695, 0.0, 0.868, 0.132],
            ),
            ("Not such a badass after all.", [-0.2584, 0.0, 0.711, 0.289]),
            ("", [0.0, 0.0, 0.0, 0.0]),
            ("   ", [0.0, 0.0, 0.0, 0.0]),
            // QUIRK cases found on real text (FINDINGS: where other ports diverge)
            ("Tendies incoming!!!!", [0.0, 0.0, 1.0, 0.0]),
            (
                "Where is the money going? Is it sheerly going into assets? Interest payments? Am I retarded?",
                [0.0, 0.253, 0.581, 0.165],
            ),
        ];
        let plain = SentimentAnalyzer::plain();
        for (text, want) in cases {
            assert_eq!(scores(plain, text), *want, "{text:?}");
        }
    }

    #[test]
    fn market_knows_wsb_words() {
        let plain = SentimentAnalyzer::plain();
        let market = SentimentAnalyzer::market();
        assert!(market.is_market() && !plain.is_market());
        for text in [
            "GME to the moon 🚀🚀🚀",
            "diamond hands on $AMC",
            "💎🙌",
            "Tendies incoming!!!!",
            "Buy the dip",
            "Upgraded to outperform at Jefferies",
        ] {
            let m = market.polarity_scores(text).compound;
            assert!(m > 0.05, "{text:?}: market {m}");
            assert!(m > plain.polarity_scores(text).compound, "{text:?}");
        }
        for text in [
            "Bagholding $PLTR since 30",
            "paper hands sold at the bottom",
            "rug pull incoming",
            "guh",
            "Downgraded to underperform, shares plunge",
            "bearish 🌈🐻 📉",
        ] {
            let m = market.polarity_scores(text).compound;
            assert!(m < -0.05, "{text:?}: market {m}");
        }
    }

    #[test]
    fn market_keeps_vaders_rules_for_new_terms() {
        let market = SentimentAnalyzer::market();
        let c = |t: &str| market.polarity_scores(t).compound;
        assert!(c("not bullish") < 0.0, "negation");
        assert!(c("never to the moon") < 0.0, "negation of a phrase");
        assert!(c("very bullish") > c("bullish"), "booster");
        assert!(
            c("I am BULLISH on this") > c("I am bullish on this"),
            "caps"
        );
        assert!(c("bullish!!!") > c("bullish"), "exclamation");
        assert!(c("DIAMOND HANDS on this one") > c("diamond hands on this one"));
        assert!(c("bearish but bullish long term") > 0.0, "but");
    }

    #[test]
    fn analyzers_are_shared_and_sync() {
        fn assert_sync<T: Sync + Send>(_: &T) {}
        assert_sync(SentimentAnalyzer::plain());
        assert!(std::ptr::eq(
            SentimentAnalyzer::market(),
            SentimentAnalyzer::market()
        ));
    }
}
