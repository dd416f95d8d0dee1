//! The feature schema: the names and order of [`super::FeatureRow::values`], and a
//! version hash that export, training, the model manifest and serving all compare.
//!
//! Changing a name, the order, or a feature's definition means bumping
//! [`FEATURE_SCHEMA`]`.version` (a definition change keeps the names but must still
//! change the hash, and the version is hashed). The pinned-hash test below fails on any
//! change, so a new schema is always deliberate.
//!
//! The hash is FNV-1a 64 of the UTF-8 text `"{version}\n{name_0}\n{name_1}...\n{name_n}"`
//! (names joined by `\n`, no trailing newline), as 16 lowercase hex digits. In Python:
//! ```text
//! h = 0xcbf29ce484222325
//! for b in (f"{version}\n" + "\n".join(names)).encode():
//!     h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
//! f"{h:016x}"
//! ```

use super::{candles, sentiment, technical, universe};

/// A versioned, ordered list of feature names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureSchema {
    pub version: u32,
    pub names: &'static [&'static str],
}

/// The schema every [`super::FeatureRow`] follows: the per-ticker blocks (technical,
/// candles, sentiment: [`super::ticker_features`]), then the market block (regime,
/// cross-sectional ranks, sector: [`super::universe::cross_section`]). See
/// `docs/features.md` for each definition.
pub const FEATURE_SCHEMA: FeatureSchema = FeatureSchema {
    version: 2,
    names: &NAMES,
};

/// Features [`super::ticker_features`] computes from one ticker's own inputs: the first
/// `TICKER_FEATURES` names of the schema.
pub const TICKER_FEATURES: usize =
    technical::NAMES.len() + candles::NAMES.len() + sentiment::NAMES.len();

const NAMES: [&str; TICKER_FEATURES + universe::NAMES.len()] = concat_names(&[
    &technical::NAMES,
    &candles::NAMES,
    &sentiment::NAMES,
    &universe::NAMES,
]);

/// The blocks' names one after the other, at compile time.
const fn concat_names<const N: usize>(blocks: &[&[&'static str]]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut at = 0;
    let mut b = 0;
    while b < blocks.len() {
        let mut i = 0;
        while i < blocks[b].len() {
            out[at] = blocks[b][i];
            at += 1;
            i += 1;
        }
        b += 1;
    }
    assert!(at == N, "the blocks do not fill the schema");
    out
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl FeatureSchema {
    /// FNV-1a 64 of the version and the names in order, as 16 lowercase hex digits.
    pub fn hash(&self) -> String {
        let mut h = FNV_OFFSET;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(FNV_PRIME);
            }
        };
        feed(self.version.to_string().as_bytes());
        for name in self.names {
            feed(b"\n");
            feed(name.as_bytes());
        }
        format!("{h:016x}")
    }

    /// Position of `name` in the schema.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name)
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_pinned() {
        // Changing this value means a new schema: bump `version`, retrain, update
        // docs/features.md and the model manifest.
        assert_eq!(FEATURE_SCHEMA.hash(), "6b23b100f17a8706");
        assert_eq!(FEATURE_SCHEMA.len(), 56);
    }

    #[test]
    fn fnv1a_matches_the_python_reference() {
        // The hashed text is "0"; the value is the Python reference of the module docs.
        let empty = FeatureSchema {
            version: 0,
            names: &[],
        };
        assert_eq!(empty.hash(), "af63ad4c86019caf");
    }

    #[test]
    fn version_order_and_names_all_change_the_hash() {
        let a = FeatureSchema {
            version: 1,
            names: &["x", "y"],
        };
        let swapped = FeatureSchema {
            version: 1,
            names: &["y", "x"],
        };
        let bumped = FeatureSchema {
            version: 2,
            names: &["x", "y"],
        };
        let joined = FeatureSchema {
            version: 1,
            names: &["x\ny"],
        };
        assert_ne!(a.hash(), swapped.hash());
        assert_ne!(a.hash(), bumped.hash());
        // Names are separated by '\n', which never occurs in a name.
        assert_eq!(a.hash(), joined.hash());
        assert!(FEATURE_SCHEMA.names.iter().all(|n| !n.contains('\n')));
    }

    #[test]
    fn names_are_unique_snake_case_and_in_block_order() {
        let names = FEATURE_SCHEMA.names;
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "duplicate {n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{n}"
            );
        }
        let mut at = 0;
        for block in [
            &technical::NAMES[..],
            &candles::NAMES,
            &sentiment::NAMES,
            &universe::REGIME_NAMES,
            &universe::RANK_NAMES,
            &universe::SECTOR_NAMES,
        ] {
            assert_eq!(&names[at..at + block.len()], block);
            at += block.len();
        }
        assert_eq!(at, names.len());
        assert_eq!(&names[TICKER_FEATURES..], &universe::NAMES);
        assert_eq!(FEATURE_SCHEMA.index_of("rsi_14"), Some(2));
        assert_eq!(FEATURE_SCHEMA.index_of("nope"), None);
    }
}
