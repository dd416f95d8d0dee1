//! One test per rule of the extractor, on texts written for the rule (the measured test
//! on real, hand-labelled comments is `shared/tests/ticker_extraction.rs`).

use super::*;

fn ex(text: &str) -> Vec<String> {
    TickerExtractor::us_listed().extract(text)
}

#[test]
fn cashtags_count_in_any_case() {
    assert_eq!(ex("$tsla $TSLA $Tsla to the moon"), ["TSLA"]);
    assert_eq!(ex("$$GME $$$ and $ AMC"), ["AMC", "GME"]);
    assert_eq!(ex("Buy $gme."), ["GME"]);
}

#[test]
fn blacklisted_words_count_only_as_cashtags() {
    assert_eq!(ex("I'm ALL IN, it is ON"), Vec::<String>::new());
    assert_eq!(ex("$ALL and $ON beat estimates"), ["ALL", "ON"]);
    assert_eq!(
        ex("My DD: IT is a YOLO, the CEO said EV and FDA news before the IPO, ATH IMO"),
        Vec::<String>::new()
    );
    assert_eq!(ex("$DD is DuPont"), ["DD"]);
}

#[test]
fn single_letters_count_only_as_cashtags() {
    assert_eq!(ex("F is cheap and so is T"), Vec::<String>::new());
    assert_eq!(ex("I think A is undervalued"), Vec::<String>::new());
    assert_eq!(ex("EV plays $F a buy? $T too, not $t"), ["F", "T"]);
}

#[test]
fn class_shares_use_the_storage_spelling() {
    for text in [
        "$BRK.B",
        "$brk.b calls",
        "BRK.B is cheap",
        "BRK-B",
        "long BRK/B",
        "(BRK.B)",
    ] {
        assert_eq!(ex(text), ["BRK-B"], "{text}");
    }
    assert_eq!(dot_spelling("BRK-B"), "BRK.B");
    assert!(TickerExtractor::us_listed().is_valid_symbol("brk.b"));
    assert!(TickerExtractor::us_listed().is_valid_symbol("BRK/B"));
    assert!(!TickerExtractor::us_listed().is_valid_symbol("BRK"));
}

#[test]
fn other_exchanges_and_compounds_do_not_fall_back_to_the_root() {
    // MCB is also a NYSE symbol; MCB.L (London) is another company.
    assert_eq!(
        ex("The board is buying back stock $MCB.L"),
        Vec::<String>::new()
    );
    assert_eq!(ex("Thoughts on $DF.TO and MCB.L?"), Vec::<String>::new());
    assert_eq!(ex("CAR-T therapy"), Vec::<String>::new());
    assert_eq!(ex("GME/AMC and AAL/CCL"), ["AAL", "AMC", "CCL", "GME"]);
}

#[test]
fn shouted_sentences_drop_english_words_but_keep_real_tickers() {
    assert_eq!(ex("BUY THE DIP AND HOLD THE LINE"), Vec::<String>::new());
    assert_eq!(
        ex("BARRICK GOLD to the MOON after RISING GOLD PRICE"),
        Vec::<String>::new()
    );
    assert_eq!(ex("PLTR TO THE MOON!!!"), ["PLTR"]);
    assert_eq!(ex("OH LORD NIO IM BOUT TO BUST"), ["NIO"]);
    // Not shouted: a capitalised symbol in an ordinary sentence counts.
    assert_eq!(ex("GOLD is up 3% since I bought"), ["GOLD"]);
    // Shouting is per sentence.
    assert_eq!(ex("HOLD THE LINE. I'm in LIT and ICLN."), ["ICLN", "LIT"]);
    // A cashtag always counts.
    assert_eq!(ex("$PLAY SQUEEZE PLAY"), ["PLAY"]);
}

#[test]
fn urls_produce_nothing() {
    for text in [
        "https://finance.yahoo.com/quote/GME/",
        "see [this](https://www.reddit.com/r/wallstreetbets/search?q=flair%3AYOLO&restrict_sr=on)",
        "www.TSLA.com",
        "read it at chewy.com or OSRn.DE",
    ] {
        assert_eq!(ex(text), Vec::<String>::new(), "{text}");
    }
    assert_eq!(ex("PLTR https://imgur.com/a/AMD NIO"), ["NIO", "PLTR"]);
}

#[test]
fn subreddit_and_user_names_produce_nothing() {
    assert_eq!(
        ex("go to r/GME or /r/AMCSTOCK, ask u/TSLA_bull"),
        Vec::<String>::new()
    );
    assert_eq!(ex("r/wallstreetbets likes GME"), ["GME"]);
    assert_eq!(ex("@KellyCNBC on TSLA"), ["TSLA"]);
}

#[test]
fn punctuation_emoji_and_possessives_do_not_hide_a_symbol() {
    assert_eq!(ex("GME!!!"), ["GME"]);
    assert_eq!(ex("Is Peloton (PTON) a buy?"), ["PTON"]);
    assert_eq!(ex("TSLA's deliveries, NVDA’s chips"), ["NVDA", "TSLA"]);
    assert_eq!(ex("TSLAâ€™s bear era"), ["TSLA"]);
    assert_eq!(
        ex("🚀🚀PLTR🚀 #NIO [BB] **AMD**"),
        ["AMD", "BB", "NIO", "PLTR"]
    );
    assert_eq!(ex("AMDs position vs Intel, $RYNs"), ["AMD", "RYN"]);
    assert_eq!(ex("AMC, GME; BB: NOK."), ["AMC", "BB", "GME", "NOK"]);
}

#[test]
fn words_glued_to_digits_currencies_and_names_are_not_tickers() {
    assert_eq!(
        ex("H2 economy, COP26, 0DTE, Q4 and 3Q results, INO4800"),
        Vec::<String>::new()
    );
    assert_eq!(
        ex("C$ 275 calls, US$4.6 billion, 20$ NOW"),
        Vec::<String>::new()
    );
    assert_eq!(ex("S&P 500 and AT&T and PG&amp;E"), Vec::<String>::new());
    assert_eq!(ex("$h!T"), Vec::<String>::new());
}

#[test]
fn lower_case_counts_only_for_symbols_that_are_neither_words_nor_names() {
    assert_eq!(ex("buy gme and Pltr and amc"), ["AMC", "GME", "PLTR"]);
    assert_eq!(
        ex("Nio and Uber, spy calls, bb gun, mrna vaccine"),
        Vec::<String>::new()
    );
}

#[test]
fn unknown_cashtags_count_unless_coins_currencies_or_jokes() {
    assert_eq!(ex("$RDEXF about to run"), ["RDEXF"]);
    assert_eq!(ex("RDEXF about to run"), Vec::<String>::new());
    assert_eq!(ex("$BTC $DOGE $USD $ROPE"), Vec::<String>::new());
    assert_eq!(ex("$rdexf"), Vec::<String>::new());
    let strict = TickerExtractor::us_listed()
        .clone()
        .with_unknown_cashtags(false);
    assert_eq!(strict.extract("$RDEXF and $GME"), ["GME"]);
}

#[test]
fn result_is_unique_and_sorted() {
    assert_eq!(ex("TSLA GME $GME tsla TSLA $AAPL"), ["AAPL", "GME", "TSLA"]);
}

#[test]
fn custom_universe_and_refresh() {
    let x = TickerExtractor::new(
        ["GME".to_string(), "brk.b".to_string()],
        ["GME".to_string()],
    )
    .with_unknown_cashtags(false);
    assert_eq!(x.len(), 2);
    assert_eq!(x.extract("GME BRK.B $GME AMC"), ["BRK-B", "GME"]);
    assert_eq!(x.extract("GME alone"), Vec::<String>::new());
    let x = x.with_symbols(["AMC".to_string(), "not a symbol".to_string()]);
    assert_eq!(x.extract("AMC"), ["AMC"]);
    assert!(x.is_valid_symbol("amc") && !x.is_valid_symbol("not a symbol"));
}

#[test]
fn embedded_universe_has_snapshot_etfs_and_history() {
    let x = TickerExtractor::us_listed();
    for s in ["GME", "SPY", "QQQ", "UVXY", "BBBY", "FB", "SQ", "BRK-B"] {
        assert!(x.is_valid_symbol(s), "{s}");
    }
    assert!(x.len() > 7000);
}
