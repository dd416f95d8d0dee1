//! A line-by-line port of vaderSentiment 3.3.2's `vaderSentiment.py` (C.J. Hutto, MIT
//! licence; see `data/SOURCES.md`), as CPython 3.11 runs it.
//!
//! The names and the order of operations are the Python's, so the two can be diffed:
//! constants (`B_INCR`, `N_SCALAR`, `NEGATE`, `BOOSTER_DICT`, `SPECIAL_CASES`), the
//! static helpers (`negated`, `normalize`, `allcap_differential`, `scalar_inc_dec`),
//! [`SentiText`] (`_strip_punc_if_word`, `_words_and_emoticons`) and the analyzer's
//! methods (`polarity_scores`, `sentiment_valence`, `_least_check`, `_but_check`,
//! `_special_idioms_check`, `_negation_check`, `_punctuation_emphasis`, `_amplify_ep`,
//! `_amplify_qm`, `_sift_sentiment_scores`, `score_valence`). Python quirks are kept on
//! purpose, each marked `QUIRK`:
//! - emoji are replaced by their description one code point at a time, with a space
//!   before (unless one is already there) and none after ("🚀abc" → "rocketabc");
//! - tokens are `str.split()` words with `string.punctuation` stripped from both ends,
//!   unless that leaves two characters or fewer (then the raw token is kept: "no." and
//!   "+5%" stay as they are, and so miss the lexicon);
//! - `_but_check` rescales `sentiments[sentiments.index(x)]`, the *first* equal value,
//!   not the current one;
//! - `_negation_check`'s third-word test reads `A and (B or C) or (D or E)`: a "so" or
//!   "this" right before a word multiplies it by 1.25;
//! - `sum()` is CPython 3.11's plain left-to-right float sum. (CPython 3.12+ compensates
//!   the sum; the two differ only when the valences cancel to ~1e-16, where 3.11 gets
//!   exactly 0, e.g. [0.7, 2.0, -2.7]; 3.11 is the interpreter of `tools/.venv`.)
//! - the scores are rounded as Python's `round` (3 decimals, compound 4).
//!
//! For speed, each word's lowercase form, `isupper()` and lexicon valence are computed
//! once in [`SentiText`], not at every look-back as the Python does; the values are the
//! same.

use std::borrow::Cow;

use super::lexicon::{Lexicons, WordInfo};
use super::pystr::{self, Casing};
use super::SentimentScores;

// ##Constants##

/// Empirically derived mean sentiment intensity rating increase for booster words.
pub const B_INCR: f64 = 0.293;
pub const B_DECR: f64 = -0.293;
/// Increase for using ALLCAPs to emphasize a word.
pub const C_INCR: f64 = 0.733;
pub const N_SCALAR: f64 = -0.74;

/// `NEGATE`.
pub const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// `BOOSTER_DICT` without its two-word keys (see [`booster_bigram`]): booster/dampener
/// "intensifiers" or "degree adverbs".
pub const BOOSTER_DICT: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// `BOOSTER_DICT[f"{a} {b}"]` for the two-word keys ("just enough", "kind of", "sort of").
/// No key has three words, so a three-word n-gram never matches.
fn booster_bigram(a: Rw, b: Rw) -> Option<f64> {
    match (a, b) {
        (Rw::Just, Rw::Enough) | (Rw::Kind, Rw::Of) | (Rw::Sort, Rw::Of) => Some(B_DECR),
        _ => None,
    }
}

/// `SPECIAL_CASES`, as word sequences (a key joined with spaces equals a sequence of
/// words joined with spaces exactly when the words are equal, since words hold no
/// whitespace). The one-word key "badass" can never equal a joined sequence of two or
/// more words, so it is left out.
const SPECIAL_CASES: &[(&[&str], f64)] = &[
    (&["the", "shit"], 3.0),
    (&["the", "bomb"], 3.0),
    (&["bad", "ass"], 1.5),
    (&["bus", "stop"], 0.0),
    (&["yeah", "right"], -2.0),
    (&["kiss", "of", "death"], -1.5),
    (&["to", "die", "for"], 3.0),
    (&["beating", "heart"], 3.5),
];

/// The words the rules compare with by name (`item.lower() == "kind"` ...), so that a
/// comparison is one byte: each word's [`Rw`] is found with its lexicon entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Rw {
    #[default]
    Other,
    But,
    Kind,
    Of,
    No,
    Or,
    Nor,
    Least,
    At,
    Very,
    Never,
    So,
    This,
    Without,
    Doubt,
    Just,
    Enough,
    Sort,
}

/// The lowercase spelling of each [`Rw`].
pub const RULE_WORDS: &[(&str, Rw)] = &[
    ("but", Rw::But),
    ("kind", Rw::Kind),
    ("of", Rw::Of),
    ("no", Rw::No),
    ("or", Rw::Or),
    ("nor", Rw::Nor),
    ("least", Rw::Least),
    ("at", Rw::At),
    ("very", Rw::Very),
    ("never", Rw::Never),
    ("so", Rw::So),
    ("this", Rw::This),
    ("without", Rw::Without),
    ("doubt", Rw::Doubt),
    ("just", Rw::Just),
    ("enough", Rw::Enough),
    ("sort", Rw::Sort),
];

/// Every word of a `SPECIAL_CASES` key.
pub fn special_case_words() -> impl Iterator<Item = &'static str> {
    SPECIAL_CASES
        .iter()
        .flat_map(|(key, _)| key.iter().copied())
}

// #Static methods#

/// `negated([word])`: the one-word form every caller uses (`include_nt=True`); computed
/// once per word into [`Word::negated`].
fn negated(info: &WordInfo, word_lower: &str) -> bool {
    // `"n't" in word`, without building a substring searcher for every word
    info.negate() || word_lower.as_bytes().windows(3).any(|w| w == b"n't")
}

/// Normalize the score to be between -1 and 1 using an alpha that approximates the max
/// expected value.
pub fn normalize(score: f64, alpha: f64) -> f64 {
    let norm_score = score / ((score * score) + alpha).sqrt();
    norm_score.clamp(-1.0, 1.0)
}

/// `True` if some but not all words are ALL CAPS.
fn allcap_differential(words: &[Word<'_>]) -> bool {
    let allcap_words = words.iter().filter(|w| w.is_upper()).count();
    let cap_differential = words.len() - allcap_words;
    0 < cap_differential && cap_differential < words.len()
}

/// Check if the preceding words increase, decrease, or negate/nullify the valence.
fn scalar_inc_dec(word: &Word<'_>, valence: f64, is_cap_diff: bool) -> f64 {
    let mut scalar = 0.0;
    if let Some(b) = word.info.booster() {
        scalar = b;
        if valence < 0.0 {
            scalar *= -1.0;
        }
        // check if booster/dampener word is in ALLCAPS (while others aren't)
        if word.is_upper() && is_cap_diff {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
    }
    scalar
}

/// One entry of `SentiText.words_and_emoticons`, with what the rules ask of it computed
/// once.
#[derive(Debug, Clone)]
pub(crate) struct Word<'a> {
    /// `item.lower()` (for a market phrase: the phrase key, words joined by one space).
    pub lower: Cow<'a, str>,
    /// What `item.isupper()` is computed from.
    pub casing: Casing,
    /// Lexicon valence, booster value, idiom membership of `lower`.
    pub info: WordInfo,
    /// `negated([item])`.
    pub negated: bool,
}

/// Identify sentiment-relevant string-level properties of input text.
pub(crate) struct SentiText<'a> {
    pub words_and_emoticons: Vec<Word<'a>>,
    pub is_cap_diff: bool,
}

impl<'a> SentiText<'a> {
    /// `lower_text` is `text.lower()` when `text` is ASCII (then every word's lowercase
    /// form is the same byte range of it), else `None`.
    pub fn new(text: &'a str, lower_text: Option<&'a str>, lexicons: &Lexicons) -> SentiText<'a> {
        let mut words_and_emoticons = Self::_words_and_emoticons(text, lower_text, lexicons);
        if let Some(market) = &lexicons.market {
            market.merge_phrases(&mut words_and_emoticons, lexicons);
        }
        let is_cap_diff = allcap_differential(&words_and_emoticons);
        SentiText {
            words_and_emoticons,
            is_cap_diff,
        }
    }

    /// Removes all trailing and leading punctuation. If the resulting string has two or
    /// fewer characters, then it was likely an emoticon, so return the original string
    /// (ie ":)" stripped would be "", so just return ":)").
    fn _strip_punc_if_word(token: &str) -> &str {
        let stripped = pystr::strip_punctuation(token);
        if pystr::len(stripped) <= 2 {
            return token;
        }
        stripped
    }

    /// Removes leading and trailing punctuation; leaves contractions and most emoticons.
    fn _words_and_emoticons(
        text: &'a str,
        lower_text: Option<&'a str>,
        lexicons: &Lexicons,
    ) -> Vec<Word<'a>> {
        let mut words = Vec::with_capacity(text.len() / 4 + 1);
        if let Some(lower_text) = lower_text {
            Self::_ascii_words_and_emoticons(text, lower_text, lexicons, &mut words);
            return words;
        }
        for wes in pystr::split(text) {
            // market mode: "+4%", "(-1.5%" are one signed-move word (see market.rs)
            if let Some(market) = &lexicons.market {
                if let Some(key) = market.signed_percent(wes) {
                    words.push(Word::with_info(
                        Cow::Borrowed(key),
                        Casing::default(),
                        lexicons,
                    ));
                    continue;
                }
            }
            let item = Self::_strip_punc_if_word(wes);
            words.push(Word::with_info(
                pystr::lower(item),
                Casing::of(item),
                lexicons,
            ));
        }
        words
    }

    /// The same for ASCII text in one pass over its bytes: `str.split()`, the punctuation
    /// strip and `isupper()` from one byte-class table; each word's lowercase form is
    /// the same byte range of `lower_text` (ASCII lowercasing keeps lengths).
    fn _ascii_words_and_emoticons(
        text: &'a str,
        lower_text: &'a str,
        lexicons: &Lexicons,
        words: &mut Vec<Word<'a>>,
    ) {
        use pystr::{ascii_class, ASCII_LOWER, ASCII_PUNCT, ASCII_SPACE, ASCII_UPPER};
        let b = text.as_bytes();
        let n = b.len();
        let mut i = 0;
        loop {
            while i < n && ascii_class(b[i]) & ASCII_SPACE != 0 {
                i += 1;
            }
            if i >= n {
                break;
            }
            let (start, mut classes) = (i, 0u8);
            while i < n {
                let c = ascii_class(b[i]);
                if c & ASCII_SPACE != 0 {
                    break;
                }
                classes |= c;
                i += 1;
            }
            let wes = &text[start..i];
            if let (Some(market), true) = (&lexicons.market, classes & ASCII_PUNCT != 0) {
                if let Some(key) = market.signed_percent(wes) {
                    words.push(Word::with_info(
                        Cow::Borrowed(key),
                        Casing::default(),
                        lexicons,
                    ));
                    continue;
                }
            }
            // _strip_punc_if_word
            let (mut s, mut e) = (start, i);
            if classes & ASCII_PUNCT != 0 {
                while s < e && ascii_class(b[s]) & ASCII_PUNCT != 0 {
                    s += 1;
                }
                while e > s && ascii_class(b[e - 1]) & ASCII_PUNCT != 0 {
                    e -= 1;
                }
                if e - s <= 2 {
                    (s, e) = (start, i);
                } else if (s, e) != (start, i) {
                    classes = b[s..e].iter().fold(0, |acc, &x| acc | ascii_class(x));
                }
            }
            let casing = Casing {
                has_lower: classes & ASCII_LOWER != 0,
                has_upper: classes & ASCII_UPPER != 0,
            };
            words.push(Word::with_info(
                Cow::Borrowed(&lower_text[s..e]),
                casing,
                lexicons,
            ));
        }
    }
}

impl<'a> Word<'a> {
    /// A word from its lowercase form and casing, with its facts looked up once.
    /// (Inlined: built in place in the caller's vector, not returned through memory.)
    #[inline(always)]
    pub fn with_info(lower: Cow<'a, str>, casing: Casing, lexicons: &Lexicons) -> Word<'a> {
        let info = lexicons.word(&lower);
        Word {
            negated: negated(&info, &lower),
            lower,
            casing,
            info,
        }
    }

    /// `item.isupper()`.
    pub fn is_upper(&self) -> bool {
        self.casing.is_upper()
    }

    /// Which rule word this is, if any.
    #[inline]
    fn rule(&self) -> Rw {
        self.info.rule()
    }

    fn in_lexicon(&self) -> bool {
        self.info.valence().is_some()
    }
}

/// `SentimentIntensityAnalyzer.polarity_scores`.
pub(crate) fn polarity_scores(lexicons: &Lexicons, text: &str) -> SentimentScores {
    // convert emojis to their textual descriptions
    let text_no_emoji = lexicons.replace_emojis(text);
    let text = pystr::strip(&text_no_emoji);
    // `item.lower()` of every word at once when the text is ASCII, in a reused buffer
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let Scratch { lower, sentiments } = &mut *scratch;
        let lower_text = if !text.is_ascii() {
            None
        } else if text.bytes().any(|b| b.is_ascii_uppercase()) {
            lower.clear();
            lower.push_str(text);
            lower.make_ascii_lowercase();
            Some(lower.as_str())
        } else {
            Some(text)
        };
        sentiments.clear();
        polarity_scores_of_words(lexicons, text, lower_text, sentiments)
    })
}

/// Buffers reused from one call to the next on a thread (no allocation per text for
/// them); only [`polarity_scores`] borrows them, and it does not recurse.
#[derive(Default)]
struct Scratch {
    lower: String,
    sentiments: Vec<f64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The rest of `polarity_scores`, from `SentiText(text)` on.
fn polarity_scores_of_words(
    lexicons: &Lexicons,
    text: &str,
    lower_text: Option<&str>,
    sentiments: &mut Vec<f64>,
) -> SentimentScores {
    let sentitext = SentiText::new(text, lower_text, lexicons);
    let words_and_emoticons = &sentitext.words_and_emoticons;
    for (i, item) in words_and_emoticons.iter().enumerate() {
        let valence = 0.0;
        // check for vader_lexicon words that may be used as modifiers or negations
        if item.info.booster().is_some() {
            sentiments.push(valence);
            continue;
        }
        if i < words_and_emoticons.len() - 1
            && item.rule() == Rw::Kind
            && words_and_emoticons[i + 1].rule() == Rw::Of
        {
            sentiments.push(valence);
            continue;
        }
        sentiment_valence(valence, &sentitext, i, sentiments);
    }
    _but_check(words_and_emoticons, sentiments);
    score_valence(sentiments, text)
}

/// `SentimentIntensityAnalyzer.sentiment_valence`.
fn sentiment_valence(
    mut valence: f64,
    sentitext: &SentiText<'_>,
    i: usize,
    sentiments: &mut Vec<f64>,
) {
    let is_cap_diff = sentitext.is_cap_diff;
    let words_and_emoticons = &sentitext.words_and_emoticons;
    let item = &words_and_emoticons[i];
    if let Some(lexicon_valence) = item.info.valence() {
        // get the sentiment valence
        valence = lexicon_valence;

        // check for "no" as negation for an adjacent lexicon item vs "no" as its own
        // stand-alone lexicon item
        if item.rule() == Rw::No
            && i != words_and_emoticons.len() - 1
            && words_and_emoticons[i + 1].in_lexicon()
        {
            // don't use valence of "no" as a lexicon item. Instead set it's valence to 0.0
            // and negate the next item
            valence = 0.0;
        }
        let w = |j: usize| words_and_emoticons[j].rule();
        if (i > 0 && w(i - 1) == Rw::No)
            || (i > 1 && w(i - 2) == Rw::No)
            || (i > 2 && w(i - 3) == Rw::No && matches!(w(i - 1), Rw::Or | Rw::Nor))
        {
            valence = lexicon_valence * N_SCALAR;
        }

        // check if sentiment laden word is in ALL CAPS (while others aren't)
        if item.is_upper() && is_cap_diff {
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }

        for start_i in 0..3 {
            // dampen the scalar modifier of preceding words and emoticons (excluding the
            // ones that immediately preceed the item) based on their distance from the
            // current item.
            if i > start_i && !words_and_emoticons[i - (start_i + 1)].in_lexicon() {
                let mut s = scalar_inc_dec(
                    &words_and_emoticons[i - (start_i + 1)],
                    valence,
                    is_cap_diff,
                );
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = _negation_check(valence, words_and_emoticons, start_i, i);
                if start_i == 2 {
                    valence = _special_idioms_check(valence, words_and_emoticons, i);
                }
            }
        }

        valence = _least_check(valence, words_and_emoticons, i);
    }
    sentiments.push(valence);
}

/// Check for negation case using "least".
fn _least_check(mut valence: f64, words_and_emoticons: &[Word<'_>], i: usize) -> f64 {
    if i > 1
        && !words_and_emoticons[i - 1].in_lexicon()
        && words_and_emoticons[i - 1].rule() == Rw::Least
    {
        if words_and_emoticons[i - 2].rule() != Rw::At
            && words_and_emoticons[i - 2].rule() != Rw::Very
        {
            valence *= N_SCALAR;
        }
    } else if i > 0
        && !words_and_emoticons[i - 1].in_lexicon()
        && words_and_emoticons[i - 1].rule() == Rw::Least
    {
        valence *= N_SCALAR;
    }
    valence
}

/// Check for modification in sentiment due to contrastive conjunction 'but'.
///
/// QUIRK, as the Python: `for sentiment in sentiments: si = sentiments.index(sentiment)`
/// rescales the first element equal to the current one, and later elements are read
/// after earlier ones were rescaled.
fn _but_check(words_and_emoticons: &[Word<'_>], sentiments: &mut [f64]) {
    let Some(bi) = words_and_emoticons.iter().position(|w| w.rule() == Rw::But) else {
        return;
    };
    for k in 0..sentiments.len() {
        let sentiment = sentiments[k];
        let si = sentiments[..k]
            .iter()
            .position(|&s| s == sentiment)
            .unwrap_or(k);
        if si < bi {
            sentiments[si] = sentiment * 0.5;
        } else if si > bi {
            sentiments[si] = sentiment * 1.5;
        }
    }
}

/// Whether the words at `idx` (lowercased) spell `key`.
fn seq_is(words_and_emoticons: &[Word<'_>], idx: &[usize], key: &[&str]) -> bool {
    idx.len() == key.len()
        && idx
            .iter()
            .zip(key)
            .all(|(&j, k)| words_and_emoticons[j].lower == *k)
}

fn special_case(words_and_emoticons: &[Word<'_>], idx: &[usize]) -> Option<f64> {
    if !idx.iter().all(|&j| words_and_emoticons[j].info.idiom()) {
        return None;
    }
    SPECIAL_CASES
        .iter()
        .find(|(key, _)| seq_is(words_and_emoticons, idx, key))
        .map(|&(_, v)| v)
}

/// `_special_idioms_check` (called with `i >= 3`).
fn _special_idioms_check(mut valence: f64, words_and_emoticons: &[Word<'_>], i: usize) -> f64 {
    let onezero = [i - 1, i];
    let twoonezero = [i - 2, i - 1, i];
    let twoone = [i - 2, i - 1];
    let threetwoone = [i - 3, i - 2, i - 1];
    let threetwo = [i - 3, i - 2];

    let sequences: [&[usize]; 5] = [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo];
    for seq in sequences {
        if let Some(v) = special_case(words_and_emoticons, seq) {
            valence = v;
            break;
        }
    }

    let n = words_and_emoticons.len();
    if n - 1 > i {
        if let Some(v) = special_case(words_and_emoticons, &[i, i + 1]) {
            valence = v;
        }
    }
    if n - 1 > i + 1 {
        if let Some(v) = special_case(words_and_emoticons, &[i, i + 1, i + 2]) {
            valence = v;
        }
    }

    // check for booster/dampener bi-grams such as 'sort of' or 'kind of'
    // (n_grams = [threetwoone, threetwo, twoone]; no BOOSTER_DICT key has three words)
    let w = |j: usize| words_and_emoticons[j].rule();
    for (a, b) in [(i - 3, i - 2), (i - 2, i - 1)] {
        if let Some(v) = booster_bigram(w(a), w(b)) {
            valence += v;
        }
    }
    valence
}

/// `_negation_check`.
fn _negation_check(
    mut valence: f64,
    words_and_emoticons: &[Word<'_>],
    start_i: usize,
    i: usize,
) -> f64 {
    let w = |j: usize| words_and_emoticons[j].rule();
    let negated = |j: usize| words_and_emoticons[j].negated;
    if start_i == 0 && negated(i - (start_i + 1)) {
        // 1 word preceding lexicon word (w/o stopwords)
        valence *= N_SCALAR;
    }
    if start_i == 1 {
        if w(i - 2) == Rw::Never && (w(i - 1) == Rw::So || w(i - 1) == Rw::This) {
            valence *= 1.25;
        } else if w(i - 2) == Rw::Without && w(i - 1) == Rw::Doubt {
            // valence = valence
        } else if negated(i - (start_i + 1)) {
            // 2 words preceding the lexicon word position
            valence *= N_SCALAR;
        }
    }
    if start_i == 2 {
        // QUIRK: `A and (B or C) or (D or E)`, as the Python's operator precedence reads
        #[allow(clippy::nonminimal_bool)]
        if w(i - 3) == Rw::Never && (w(i - 2) == Rw::So || w(i - 2) == Rw::This)
            || (w(i - 1) == Rw::So || w(i - 1) == Rw::This)
        {
            valence *= 1.25;
        } else if w(i - 3) == Rw::Without && (w(i - 2) == Rw::Doubt || w(i - 1) == Rw::Doubt) {
            // valence = valence
        } else if negated(i - (start_i + 1)) {
            // 3 words preceding the lexicon word position
            valence *= N_SCALAR;
        }
    }
    valence
}

/// Add emphasis from exclamation points and question marks.
fn _punctuation_emphasis(text: &str) -> f64 {
    let (mut ep_count, mut qm_count) = (0usize, 0usize);
    for &b in text.as_bytes() {
        ep_count += usize::from(b == b'!');
        qm_count += usize::from(b == b'?');
    }
    let ep_amplifier = _amplify_ep(ep_count);
    let qm_amplifier = _amplify_qm(qm_count);
    ep_amplifier + qm_amplifier
}

/// Check for added emphasis resulting from exclamation points (up to 4 of them).
fn _amplify_ep(ep_count: usize) -> f64 {
    // (empirically derived mean sentiment intensity rating increase for exclamation points)
    ep_count.min(4) as f64 * 0.292
}

/// Check for added emphasis resulting from question marks (2 or 3+).
fn _amplify_qm(qm_count: usize) -> f64 {
    if qm_count > 1 {
        if qm_count <= 3 {
            // (empirically derived mean sentiment intensity rating increase for question
            // marks)
            return qm_count as f64 * 0.18;
        }
        return 0.96;
    }
    0.0
}

/// Want separate positive versus negative sentiment scores.
fn _sift_sentiment_scores(sentiments: &[f64]) -> (f64, f64, usize) {
    let mut pos_sum = 0.0;
    let mut neg_sum = 0.0;
    let mut neu_count = 0;
    for &sentiment_score in sentiments {
        if sentiment_score > 0.0 {
            pos_sum += sentiment_score + 1.0; // compensates for neutral words that are counted as 1
        }
        if sentiment_score < 0.0 {
            neg_sum += sentiment_score - 1.0; // when used with math.fabs(), compensates for neutrals
        }
        if sentiment_score == 0.0 {
            neu_count += 1;
        }
    }
    (pos_sum, neg_sum, neu_count)
}

/// `score_valence`.
fn score_valence(sentiments: &[f64], text: &str) -> SentimentScores {
    let (compound, pos, neg, neu);
    if !sentiments.is_empty() && sentiments.iter().all(|&s| s == 0.0) {
        // Shortcut, same values: the sum is 0 (no emphasis), pos_sum == neg_sum == 0 (no
        // emphasis either), every word neutral.
        return SentimentScores {
            compound: 0.0,
            pos: 0.0,
            neu: 1.0,
            neg: 0.0,
        };
    }
    if !sentiments.is_empty() {
        // CPython 3.11 `sum`: plain left-to-right addition from 0.
        let mut sum_s = sentiments.iter().fold(0.0, |acc, &s| acc + s);
        // compute and add emphasis from punctuation in text
        let punct_emph_amplifier = _punctuation_emphasis(text);
        if sum_s > 0.0 {
            sum_s += punct_emph_amplifier;
        } else if sum_s < 0.0 {
            sum_s -= punct_emph_amplifier;
        }

        compound = normalize(sum_s, 15.0);
        // discriminate between positive, negative and neutral sentiment scores
        let (mut pos_sum, mut neg_sum, neu_count) = _sift_sentiment_scores(sentiments);

        if pos_sum > neg_sum.abs() {
            pos_sum += punct_emph_amplifier;
        } else if pos_sum < neg_sum.abs() {
            neg_sum -= punct_emph_amplifier;
        }

        let total = pos_sum + neg_sum.abs() + neu_count as f64;
        pos = (pos_sum / total).abs();
        neg = (neg_sum / total).abs();
        neu = (neu_count as f64 / total).abs();
    } else {
        compound = 0.0;
        pos = 0.0;
        neg = 0.0;
        neu = 0.0;
    }

    SentimentScores {
        compound: pystr::round(compound, 4),
        pos: pystr::round(pos, 3),
        neu: pystr::round(neu, 3),
        neg: pystr::round(neg, 3),
    }
}
