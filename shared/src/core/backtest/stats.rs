//! "Better than chance?" in numbers, pure and seeded: a small deterministic PRNG
//! ([`SplitMix64`]), percentiles and percentile ranks, the percentile bootstrap of a mean
//! (the average net trade), the stationary bootstrap of the Sharpe ratio, and the deflated
//! Sharpe ratio of Bailey & López de Prado (2014). Prose and reasons: `docs/backtest.md`.
//!
//! Conventions:
//! - percentile `p` of a sample: linear interpolation between order statistics at
//!   `h = (n − 1) p` (numpy's default, "type 7");
//! - percentile rank of `x` in a sample: `100 × (#{v < x} + ½ #{v = x}) / n` (ties split);
//! - bootstrap intervals are percentile intervals (2.5th and 97.5th percentile of the
//!   resampled statistic), with a fixed seed so the same inputs give the same report.

use super::metrics::{sample_std, sharpe, TRADING_DAYS_PER_YEAR};

/// SplitMix64 (Steele, Lea & Flood 2014; the seeder of xoshiro): 64 bits of state, one
/// add and a mix per draw, passes BigCrush; fully specified here, so a seed gives the
/// same stream on every platform and every version of every crate.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform in [0, 1): the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (n > 0), by the multiply-shift reduction (bias < n / 2⁶⁴).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// SplitMix64's finaliser: a bijective mix of 64 bits (also used to derive sub-seeds).
pub fn mix64(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Percentile `p` (0..=1) of `xs` by linear interpolation (numpy's default); None if empty.
pub fn percentile(xs: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    percentile_sorted(&v, p)
}

fn percentile_sorted(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let h = (v.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(v[lo] + (h - lo as f64) * (v[hi] - v[lo]))
}

/// Where `x` falls in `sample`, 0..=100: the share below it plus half the ties.
pub fn percentile_rank(sample: &[f64], x: f64) -> Option<f64> {
    if sample.is_empty() || !x.is_finite() {
        return None;
    }
    let below = sample.iter().filter(|v| **v < x).count() as f64;
    let ties = sample.iter().filter(|v| **v == x).count() as f64;
    Some(100.0 * (below + 0.5 * ties) / sample.len() as f64)
}

/// A sample summarised: mean, 5th / 50th / 95th percentiles, and how many values it had.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spread {
    pub n: usize,
    pub mean: Option<f64>,
    pub p5: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

impl Spread {
    /// Of the finite values of `xs`.
    pub fn of(xs: &[f64]) -> Self {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Self {
            n: v.len(),
            mean: (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64),
            p5: percentile_sorted(&v, 0.05),
            p50: percentile_sorted(&v, 0.50),
            p95: percentile_sorted(&v, 0.95),
        }
    }
}

/// A bootstrap percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Resamples of every bootstrap in the report.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// Mean block length, in trading days, of the stationary bootstrap of daily returns.
pub const BOOTSTRAP_BLOCK_DAYS: f64 = 5.0;

/// The percentile bootstrap's `level` interval (e.g. 0.95) of the mean of `xs`:
/// `resamples` samples of `xs.len()` values drawn with replacement; None under two values.
pub fn bootstrap_mean(xs: &[f64], resamples: usize, level: f64, seed: u64) -> Option<Interval> {
    if xs.len() < 2 || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let n = xs.len();
    let means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| xs[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    interval(&means, level)
}

fn interval(stats: &[f64], level: f64) -> Option<Interval> {
    let tail = (1.0 - level) / 2.0;
    Some(Interval {
        low: percentile(stats, tail)?,
        high: percentile(stats, 1.0 - tail)?,
    })
}

/// One stationary-bootstrap resample (Politis & Romano 1994) of `xs`: blocks of
/// geometric length (mean `block`) starting at uniform positions, wrapping around the end.
pub fn stationary_resample(xs: &[f64], block: f64, rng: &mut SplitMix64) -> Vec<f64> {
    let n = xs.len();
    let restart = 1.0 / block.max(1.0);
    let mut out = Vec::with_capacity(n);
    let mut i = rng.below(n);
    for k in 0..n {
        if k > 0 {
            i = if rng.next_f64() < restart {
                rng.below(n)
            } else {
                (i + 1) % n
            };
        }
        out.push(xs[i]);
    }
    out
}

/// The `level` interval of the annualised Sharpe of daily `returns` by the stationary
/// bootstrap (mean block `block` days: keeps the autocorrelation of a swing book's
/// returns, positions held a few days); resamples without a Sharpe (no variance) are
/// skipped; None if fewer than half have one.
pub fn bootstrap_sharpe(
    returns: &[f64],
    resamples: usize,
    block: f64,
    level: f64,
    seed: u64,
) -> Option<Interval> {
    if returns.len() < 2 || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let sharpes: Vec<f64> = (0..resamples)
        .filter_map(|_| sharpe(&stationary_resample(returns, block, &mut rng)))
        .collect();
    if sharpes.len() * 2 < resamples {
        return None;
    }
    interval(&sharpes, level)
}

/// Skewness and (non-excess) kurtosis of `xs` with population moments (`E[(x−μ)^k] / σ^k`,
/// σ the population std): the γ3, γ4 of Bailey & López de Prado. None under two values or
/// without variance.
pub fn skew_kurtosis(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let moment = |k: i32| xs.iter().map(|x| (x - m).powi(k)).sum::<f64>() / n;
    let var = moment(2);
    if var <= 0.0 || !var.is_finite() {
        return None;
    }
    Some((moment(3) / var.powf(1.5), moment(4) / (var * var)))
}

/// The standard normal distribution function Φ (Hart 1968, as given by West 2005:
/// double precision, absolute error below 1e-14).
pub fn normal_cdf(x: f64) -> f64 {
    let a = x.abs();
    let tail = if a > 37.0 {
        0.0
    } else {
        let e = (-a * a / 2.0).exp();
        if a < 7.071_067_811_865_47 {
            let num = [
                3.526_249_659_989_11e-2,
                0.700_383_064_443_688,
                6.373_962_203_531_65,
                33.912_866_078_383,
                112.079_291_497_871,
                221.213_596_169_931,
                220.206_867_912_376,
            ]
            .iter()
            .fold(0.0, |acc, c| acc * a + c);
            let den = [
                8.838_834_764_831_84e-2,
                1.755_667_163_182_64,
                16.064_177_579_207,
                86.780_732_202_946_1,
                296.564_248_779_674,
                637.333_633_378_831,
                793.826_512_519_948,
                440.413_735_824_752,
            ]
            .iter()
            .fold(0.0, |acc, c| acc * a + c);
            e * num / den
        } else {
            let mut b = a + 0.65;
            for k in [4.0, 3.0, 2.0, 1.0] {
                b = a + k / b;
            }
            e / b / 2.506_628_274_631
        }
    };
    if x > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Φ⁻¹ (Acklam's rational approximation, then one Halley step on [`normal_cdf`]: about
/// 1e-12 relative); ±∞ at 0 and 1, NaN outside [0, 1].
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let poly = |cs: &[f64], x: f64| cs.iter().fold(0.0, |acc, c| acc * x + c);
    let tail = |q: f64| poly(&C, q) / (poly(&D, q) * q + 1.0);
    let low = 0.024_25;
    let x = if p < low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - low {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    };
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Euler–Mascheroni γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The expected maximum of `trials` per-period Sharpe ratios whose true value is 0 and
/// whose estimates have variance `variance` (Bailey & López de Prado 2014, eq. 2 with the
/// false-strategy theorem): `√V × ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`. One
/// trial: 0 (nothing was selected, the deflated ratio is the probabilistic one).
pub fn expected_max_sharpe(trials: usize, variance: f64) -> f64 {
    if trials <= 1 {
        return 0.0;
    }
    let n = trials as f64;
    variance.max(0.0).sqrt()
        * ((1.0 - EULER_GAMMA) * normal_quantile(1.0 - 1.0 / n)
            + EULER_GAMMA * normal_quantile(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// The probabilistic Sharpe ratio: the probability that the true per-period Sharpe exceeds
/// `benchmark`, given the estimate `sr` from `observations` returns with skewness `skew`
/// and (non-excess) kurtosis `kurtosis` (Bailey & López de Prado 2012):
/// `Φ((SR − SR*) √(T − 1) / √(1 − γ3 SR + (γ4 − 1)/4 SR²))`. None if the variance term
/// is not positive or T < 2.
pub fn probabilistic_sharpe(
    sr: f64,
    benchmark: f64,
    observations: usize,
    skew: f64,
    kurtosis: f64,
) -> Option<f64> {
    let v = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
    if observations < 2 || v.is_nan() || v <= 0.0 || !sr.is_finite() {
        return None;
    }
    Some(normal_cdf(
        (sr - benchmark) * ((observations - 1) as f64).sqrt() / v.sqrt(),
    ))
}

/// The deflated Sharpe ratio of a strategy, every number explained.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DeflatedSharpe {
    /// Configurations tried (N).
    pub trials: usize,
    /// Daily returns (T).
    pub observations: usize,
    /// The annualised Sharpe (`√252 ×` the per-day one).
    pub sharpe: f64,
    pub skewness: f64,
    pub kurtosis: f64,
    /// The variance across trials of the annualised Sharpe, V (the input).
    pub trials_sharpe_variance: f64,
    /// The annualised Sharpe that the best of N zero-skill trials is expected to reach.
    pub expected_max_sharpe: f64,
    /// P(true Sharpe > 0).
    pub probabilistic_sharpe: f64,
    /// P(true Sharpe > the expected maximum of N zero-skill trials).
    pub deflated_sharpe: f64,
}

/// The deflated Sharpe ratio of daily `returns` after `trials` configurations whose
/// annualised Sharpe ratios vary with variance `annual_variance`. Annualised inputs and
/// outputs are converted with √252 (per-day Sharpe = annual / √252, variance / 252).
pub fn deflated_sharpe(
    returns: &[f64],
    trials: usize,
    annual_variance: f64,
) -> Option<DeflatedSharpe> {
    let per_day = super::metrics::sharpe(returns)? / TRADING_DAYS_PER_YEAR.sqrt();
    sample_std(returns)?;
    let (skew, kurt) = skew_kurtosis(returns)?;
    let sr0 = expected_max_sharpe(trials, annual_variance / TRADING_DAYS_PER_YEAR);
    let t = returns.len();
    Some(DeflatedSharpe {
        trials: trials.max(1),
        observations: t,
        sharpe: per_day * TRADING_DAYS_PER_YEAR.sqrt(),
        skewness: skew,
        kurtosis: kurt,
        trials_sharpe_variance: annual_variance,
        expected_max_sharpe: sr0 * TRADING_DAYS_PER_YEAR.sqrt(),
        probabilistic_sharpe: probabilistic_sharpe(per_day, 0.0, t, skew, kurt)?,
        deflated_sharpe: probabilistic_sharpe(per_day, sr0, t, skew, kurt)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_splitmix64_reference_stream_and_determinism() {
        // The reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
        let draw = |seed| {
            let mut r = SplitMix64::new(seed);
            (0..5).map(|_| r.below(10)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let mut r = SplitMix64::new(3);
        assert!((0..1000)
            .map(|_| r.next_f64())
            .all(|u| (0.0..1.0).contains(&u)));
    }

    #[test]
    fn stats_percentiles_and_ranks_by_hand() {
        let xs = [3.0, 1.0, 4.0, 1.0, 5.0];
        // Sorted 1 1 3 4 5: p50 = 3; p5 at h = 0.2 → 1; p95 at h = 3.8 → 4 + 0.8 = 4.8;
        // p25 at h = 1 → 1; p90 at h = 3.6 → 4.6.
        assert_eq!(percentile(&xs, 0.5), Some(3.0));
        assert_eq!(percentile(&xs, 0.05), Some(1.0));
        assert!((percentile(&xs, 0.95).unwrap() - 4.8).abs() < 1e-12);
        assert!((percentile(&xs, 0.9).unwrap() - 4.6).abs() < 1e-12);
        assert_eq!(percentile(&[], 0.5), None);
        let s = Spread::of(&[3.0, 1.0, 4.0, 1.0, 5.0, f64::NAN]);
        assert_eq!(s.n, 5);
        assert!((s.mean.unwrap() - 2.8).abs() < 1e-12);
        // 1 is tied twice at the bottom: (0 + 1) / 5; 4 has three below: (3 + 0.5) / 5.
        assert_eq!(percentile_rank(&xs, 1.0), Some(20.0));
        assert_eq!(percentile_rank(&xs, 4.0), Some(70.0));
        assert_eq!(percentile_rank(&xs, 9.0), Some(100.0));
        assert_eq!(percentile_rank(&xs, 0.0), Some(0.0));
    }

    #[test]
    fn stats_bootstrap_of_the_mean_on_hand_computed_data() {
        // Two values: a resample's mean is 1, 1.5 or 2 with probabilities 1/4, 1/2, 1/4,
        // so the 2.5th and 97.5th percentiles of 10 000 resampled means are 1 and 2.
        let ci = bootstrap_mean(&[1.0, 2.0], 10_000, 0.95, 42).unwrap();
        assert_eq!((ci.low, ci.high), (1.0, 2.0));
        // A constant sample has a point interval.
        let ci = bootstrap_mean(&[0.03; 7], 1_000, 0.95, 1).unwrap();
        assert_eq!((ci.low, ci.high), (0.03, 0.03));
        // Same seed, same interval; the interval contains the mean and narrows with n.
        let xs: Vec<f64> = (0..40)
            .map(|i| ((i * 37) % 11) as f64 / 100.0 - 0.04)
            .collect();
        let a = bootstrap_mean(&xs, 2_000, 0.95, 9).unwrap();
        assert_eq!(Some(a), bootstrap_mean(&xs, 2_000, 0.95, 9));
        let m = xs.iter().sum::<f64>() / 40.0;
        assert!(a.low < m && m < a.high, "{a:?} {m}");
        // The standard error is sd/√n ≈ 0.0312/√40 ≈ 0.0049: the 95 % width ≈ 4 × 0.0049.
        let width = a.high - a.low;
        assert!((0.016..0.023).contains(&width), "{width}");
        assert_eq!(bootstrap_mean(&[1.0], 100, 0.95, 1), None);
    }

    #[test]
    fn stats_stationary_bootstrap_keeps_blocks_and_the_sharpe_interval_covers() {
        let xs: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let mut rng = SplitMix64::new(5);
        let r = stationary_resample(&xs, 5.0, &mut rng);
        assert_eq!(r.len(), 100);
        // Consecutive values continue a block (+1, or wrap 99 → 0) about 4 times in 5.
        let runs = r
            .windows(2)
            .filter(|w| w[1] == (w[0] + 1.0) % 100.0)
            .count();
        assert!((65..=92).contains(&runs), "{runs}");
        // Daily returns with a known Sharpe: alternating 0.011 / −0.009 (mean 0.001, sd ≈
        // 0.01005): annualised 1.58; the interval contains it.
        let rs: Vec<f64> = (0..500)
            .map(|i| if i % 2 == 0 { 0.011 } else { -0.009 })
            .collect();
        let s = sharpe(&rs).unwrap();
        let ci = bootstrap_sharpe(&rs, 2_000, 5.0, 0.95, 3).unwrap();
        assert!(ci.low < s && s < ci.high, "{ci:?} {s}");
        assert_eq!(bootstrap_sharpe(&[0.0; 10], 100, 5.0, 0.95, 3), None);
    }

    #[test]
    fn stats_normal_cdf_and_quantile_match_reference_values() {
        // scipy.stats.norm.cdf / ppf.
        for (x, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (-1.0, 0.158_655_253_931_457_05),
            (1.96, 0.975_002_104_851_779_5),
            (-3.0, 0.001_349_898_031_630_094_6),
            (8.0, 0.999_999_999_999_999_4),
        ] {
            assert!(
                (normal_cdf(x) - p).abs() < 1e-13,
                "Φ({x}) = {}",
                normal_cdf(x)
            );
        }
        for (p, x) in [
            (0.975, 1.959_963_984_540_054),
            (0.99, 2.326_347_874_040_841),
            (0.01, -2.326_347_874_040_841),
            (0.5, 0.0),
            (1e-6, -4.753_424_308_822_899),
        ] {
            assert!(
                (normal_quantile(p) - x).abs() < 1e-9,
                "Φ⁻¹({p}) = {}",
                normal_quantile(p)
            );
        }
    }

    #[test]
    fn stats_deflated_sharpe_reproduces_the_papers_example() {
        // Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", section on the
        // numerical example: annualised SR 2.5 over 5 years of daily returns (T = 1250,
        // 250 days a year), N = 100 trials with annualised Sharpe variance 0.5, skewness
        // −3, kurtosis 10: SR₀ ≈ 0.1132 per day and DSR ≈ 0.9004.
        let per_year: f64 = 250.0;
        let sr = 2.5 / per_year.sqrt();
        let sr0 = expected_max_sharpe(100, 0.5 / per_year);
        assert!((sr0 - 0.1132).abs() < 5e-5, "{sr0}");
        let dsr = probabilistic_sharpe(sr, sr0, 1250, -3.0, 10.0).unwrap();
        assert!((dsr - 0.9004).abs() < 5e-4, "{dsr}");
        // One trial: no deflation, the benchmark is 0.
        assert_eq!(expected_max_sharpe(1, 0.5), 0.0);
        // More trials deflate more.
        assert!(expected_max_sharpe(1000, 0.5) > expected_max_sharpe(100, 0.5));
    }

    #[test]
    fn stats_skew_kurtosis_and_deflated_sharpe_of_returns() {
        // 1, 2, 3, 10: mean 4, deviations −3 −2 −1 6: m2 = 12.5, m3 = 45, m4 = 351/2.
        let (s, k) = skew_kurtosis(&[1.0, 2.0, 3.0, 10.0]).unwrap();
        assert!((s - 45.0 / 12.5f64.powf(1.5)).abs() < 1e-12);
        assert!((k - (1.0 + 16.0 + 81.0 + 1296.0) / 4.0 / 156.25).abs() < 1e-12);
        assert_eq!(skew_kurtosis(&[2.0, 2.0]), None);
        let rs: Vec<f64> = (0..500)
            .map(|i| if i % 2 == 0 { 0.011 } else { -0.009 })
            .collect();
        let one = deflated_sharpe(&rs, 1, 0.4).unwrap();
        assert_eq!(one.expected_max_sharpe, 0.0);
        assert_eq!(one.deflated_sharpe, one.probabilistic_sharpe);
        assert!(one.probabilistic_sharpe > 0.9);
        let many = deflated_sharpe(&rs, 50, 0.4).unwrap();
        assert!(many.deflated_sharpe < one.deflated_sharpe);
        assert!(many.expected_max_sharpe > 1.0);
    }
}
