//! Randomness analysis of a sample of session tokens, after Burp Sequencer's method.
//!
//! [`analyse`] takes tokens in the order they were issued and returns an [`EntropyReport`]: how
//! many bits of each token look random, which patterns make tokens predictable, and a
//! [`Verdict`].
//!
//! # What the numbers mean
//!
//! Statistical tests can only show that tokens are *not* random; they never prove the opposite.
//! A generator that hashes a counter, or a seeded LCG, passes every test here. The effective
//! entropy is therefore an **upper-bound estimate**, and like Burp Sequencer's, "an indicative
//! guide" only. With `N` tokens, a per-bit test rejects a bit at 1% only if it is set in a
//! fraction of tokens further than about `1.3/√N` from ½ (outside 41–59% at 200 tokens,
//! 48.2–51.8% at 5,000): few samples reveal gross structure (constant, counting or time-based
//! bits) but not a subtly weak generator. Burp allows analysis from 100 tokens, calls 5,000
//! enough "for most purposes" and 20,000 enough for FIPS-style tests.
//!
//! # Method
//!
//! 1. **Input.** Printable ASCII tokens (cookie or URL values), at least 2 and at most
//!    [`MAX_TOKENS`], each at most [`MAX_TOKEN_BYTES`] bytes.
//! 2. **Character level** (Burp): for each character position, the set of characters seen there,
//!    `bits = floor(log2(set size))`, a chi-square test of uniform use of that set, and a
//!    transition test: the step between the character's index in successive tokens, modulo the
//!    set size, must be uniform (a counter steps by 0 or 1). The position's score is the lower
//!    p-value.
//! 3. **Conversion to bits.** If every token decodes consistently as hex (one letter case, at least
//!    one letter in the sample) or as base64url / base64 (a character beyond the alphanumerics seen
//!    at a varying position), the decoded bits are used. Otherwise each character position is
//!    mapped to `floor(log2(set size))` bits as Burp does; where the set size is not a power of two,
//!    the characters beyond the first `2^bits` (in byte order) are left out of that position's bit
//!    tests, so that under the null hypothesis the remaining values are exactly uniform
//!    (rejection sampling; the character-level test still covers all characters). At most
//!    [`MAX_BIT_POSITIONS`] bit positions are analysed.
//! 4. **Bit level**: each bit position, read across the tokens in order, is a sequence of `n`
//!    bits on which FIPS-style tests run, recalibrated for `n` instead of FIPS's 20,000:
//!    *monobit* (two-sided normal test with continuity correction), *runs* (the lengths of runs
//!    of ones and of zeros in cells 1, 2, …, "k or more", as FIPS's 1…6+, against the geometric
//!    law of fair bits: a multinomial chi-square given the number of runs, `k` as large as keeps
//!    5 expected per cell; Wald–Wolfowitz's total number of runs when there are too few runs
//!    for that, from `n ≥ 20`), *poker* (non-overlapping `m`-bit groups, `m` = 4, 3 or 2 as `n`
//!    allows at least 5 expected per cell, from `n ≥ 40`) and *long run* (the exact distribution of the longest run in `n` fair bits, two-sided: a
//!    too-short longest run is suspicious too). A bit that never varies scores 0. A *correlation*
//!    test compares every pair of bit positions (up to 1,024 positions, on the first 20,000
//!    tokens); a pair that agrees or disagrees too often, at 1% after a Bonferroni correction
//!    for the number of pairs, marks the lower-scoring bit of the pair as redundant (its score
//!    becomes the pair's corrected p-value). A bit's score is the lowest p-value among its tests.
//!    The per-bit tests are checked for calibration on random bits (each rejects about 1% at 1%).
//! 5. **Effective entropy** (Burp): the number of bit positions whose score is at least the
//!    significance level, reported at 0.001%, 0.01%, 0.1%, 1%, 5% and 10%.
//!    [`EntropyReport::effective_bits`] is the count at 1%.
//! 6. **Stream tests** (informational): FIPS 140-2 power-up tests with their exact bounds on each
//!    20,000-bit block of the concatenated bits, and NIST SP 800-22 frequency, block frequency,
//!    runs, longest run of ones and cumulative sums p-values on the concatenation (at most
//!    1,000,000 bits). The concatenation mixes a token's structure (constant bits) with its
//!    randomness, so these tests do not enter the verdict.
//! 7. **Patterns**: duplicate tokens; a counter (the whole token, a decimal or hex field, or a
//!    window of the decoded bits or of hex digits split by delimiters as in UUIDs, 4-bit
//!    aligned in the first 256 bits, 8 to 64 bits wide, increasing in ≥ 90% of steps, with the sign test below
//!    0.1% after Bonferroni correction over the candidate fields, and either spanning under a
//!    quarter of the field's range or stepping by one value in half the steps); a timestamp (a
//!    field or bit window whose value is a Unix time in seconds or milliseconds within ±10 years
//!    of now for ≥ 90% of tokens, spanning at most a year, not constant, and non-decreasing in ≥
//!    90% of steps); constant prefix, suffix, positions and bits; short tokens (< 16 characters
//!    or < 64 bits); tokens that are data rather than identifiers (JWT, itsdangerous-style
//!    `payload.timestamp.signature`, express `s:value.signature`, Rails `data--digest`, base64
//!    of JSON); tokens listed in sorted order (which voids the order-based tests).
//!
//! # Verdict
//!
//! The verdict counts bits at a stricter level than the headline 1% figure, to correct for
//! multiple testing. With `B` bit positions and up to four tests each, about 3% of truly random
//! bits score below 1% by chance (7 of 256), so the 1% count understates a good token, and a
//! 128-bit token would rarely reach 128. The verdict therefore counts bits whose score is at
//! least [`VERDICT_SIGNIFICANCE`] = 10⁻⁶ (0.0001%): a Bonferroni correction over the `4B` tests,
//! so that a sample of truly random tokens loses any bit with probability at most `4B × 10⁻⁶`
//! (0.1% for 256-bit tokens, 0.05% for 128-bit ones; measured over 1,000 samples of 200 random
//! tokens each: none lost a bit at 256 bits, one at 128 bits). Gross structure still scores far
//! below it: a constant bit scores 0, a copied bit or a counting bit scores below 10⁻²⁰ with 200
//! tokens, and counters and timestamps are caught by the pattern detectors. What the stricter level gives up is subtle
//! bias (it needs `|z| > 4.9` instead of 2.6), which few samples could not show anyway. The
//! rules, in order:
//!
//! * **Fail** if two tokens are equal;
//! * **Warn** if the tokens look like data (a JWT, a signed cookie…): their strength rests on a
//!   key and their content, not on randomness, so they are not scored as random identifiers;
//! * **Fail** if a counter or a timestamp is found;
//! * **Fail** if fewer than [`FAIL_BELOW_BITS`] = 64 bits reach 10⁻⁶ (ASVS 4.0.3 3.2.2);
//! * **Warn** if fewer than [`WARN_BELOW_BITS`] = 128 bits do (ASVS 5.0 7.2.3);
//! * **Warn** if there are fewer than [`MIN_TOKENS_FOR_PASS`] = 100 tokens (Burp's minimum): too
//!   few for a pass;
//! * **Pass** otherwise.

use std::collections::HashMap;
use std::fmt::Write as _;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::Serialize;

mod bit_tests;
mod bits;
mod chars;
mod patterns;
mod special;
mod stream;
#[cfg(test)]
mod tests;
mod verdict;

use bit_tests::*;
use bits::*;
use chars::*;
use patterns::*;
use special::*;
use stream::*;
use verdict::*;

/// Fewest tokens [`analyse`] accepts.
pub const MIN_TOKENS: usize = 2;
/// Fewest tokens for a [`Verdict::Pass`] (Burp Sequencer's minimum sample).
pub const MIN_TOKENS_FOR_PASS: usize = 100;
/// Most tokens [`analyse`] accepts.
pub const MAX_TOKENS: usize = 100_000;
/// Longest token [`analyse`] accepts, in bytes.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Most bit positions analysed per token (512 decoded bytes).
pub const MAX_BIT_POSITIONS: usize = 4096;
/// Significance levels at which effective entropy is reported (0.001% … 10%).
pub const SIGNIFICANCE_LEVELS: [f64; 6] = [0.000_01, 0.000_1, 0.001, 0.01, 0.05, 0.10];
/// The level of the headline figure [`EntropyReport::effective_bits`].
pub const HEADLINE_SIGNIFICANCE: f64 = 0.01;
/// The level at which bits are counted for the verdict (see the module docs).
pub const VERDICT_SIGNIFICANCE: f64 = 0.000_001;
/// Fewer verdict bits than this fail.
pub const FAIL_BELOW_BITS: usize = 64;
/// Fewer verdict bits than this warn.
pub const WARN_BELOW_BITS: usize = 128;

const MAX_STREAM_BITS: usize = 1_000_000;
const FIPS_BLOCK_BITS: usize = 20_000;
const MAX_CORRELATION_BITS: usize = 1024;
const MAX_CORRELATION_TOKENS: usize = 20_000;
const MAX_PATTERN_TOKENS: usize = 1000;
const MAX_WINDOW_OFFSET: usize = 256;
const TEN_YEARS_SECS: i64 = 315_576_000;
const ONE_YEAR_SECS: u128 = 31_557_600;
/// itsdangerous before 1.0 counted seconds from 2011-01-01.
const ITSDANGEROUS_OLD_EPOCH: i64 = 1_293_840_000;
const SHORT_CHARS: usize = 16;
const SHORT_BITS: usize = 64;

/// Why a token list cannot be analysed. `line` is the 1-based position in the list (the line
/// number when the list comes from a file with one token per line and no blank lines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntropyError {
    /// Fewer than [`MIN_TOKENS`] tokens.
    #[error(
        "need at least {needed} tokens to analyse, got {got} ({MIN_TOKENS_FOR_PASS} or more for a meaningful result, 5,000 for a reliable one)"
    )]
    TooFew {
        /// Tokens given.
        got: usize,
        /// Tokens needed.
        needed: usize,
    },
    /// More than [`MAX_TOKENS`] tokens.
    #[error("{got} tokens is more than the {max} analysed at most")]
    TooMany {
        /// Tokens given.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// An empty token.
    #[error("line {line}: empty token")]
    Empty {
        /// Its position (1-based).
        line: usize,
    },
    /// A token longer than [`MAX_TOKEN_BYTES`].
    #[error("line {line}: the token has {len} bytes, more than the {max} allowed")]
    TooLong {
        /// Its position (1-based).
        line: usize,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A token with a byte outside printable ASCII (or a space).
    #[error(
        "line {line}, column {column}: byte 0x{byte:02x} is not printable ASCII; tokens are cookie or URL values (printable ASCII, no spaces)"
    )]
    NotPrintable {
        /// Its position (1-based).
        line: usize,
        /// The byte's column (1-based, in bytes).
        column: usize,
        /// The byte.
        byte: u8,
    },
}

/// Overall judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// At least 128 bits look random and nothing predictable was found.
    Pass,
    /// 64 to 127 bits, too few tokens for a pass, or tokens that are data, not identifiers.
    Warn,
    /// Fewer than 64 bits, or duplicates, a counter or a timestamp.
    Fail,
}

/// How tokens were turned into bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal: 4 bits per character.
    Hex,
    /// base64url (RFC 4648 §5), decoded.
    Base64Url,
    /// Standard base64 (RFC 4648 §4), decoded.
    Base64,
    /// No common encoding: each character position maps to `floor(log2(set size))` bits.
    Characters,
}

impl Encoding {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hex => "hex",
            Self::Base64Url => "base64url",
            Self::Base64 => "base64",
            Self::Characters => "characters (per-position alphabets)",
        }
    }
}

/// Token lengths, in characters (bytes: tokens are ASCII).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthStats {
    /// Shortest.
    pub min: usize,
    /// Longest.
    pub max: usize,
    /// Mean.
    pub mean: f64,
}

/// Character-level analysis of one position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CharPosition {
    /// 0-based character position.
    pub position: usize,
    /// Tokens long enough to have this position.
    pub samples: usize,
    /// Distinct characters seen here.
    pub distinct: usize,
    /// `floor(log2(distinct))`.
    pub bits: u32,
    /// Chi-square p-value of uniform use of the characters seen (`None` if fewer than 2).
    pub uniformity_p: Option<f64>,
    /// p-value of the transition test between successive tokens (`None` if too few samples).
    pub transition_p: Option<f64>,
    /// Lowest p-value (0 for a constant position).
    pub score: f64,
}

/// Bit-level analysis of one bit position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BitPosition {
    /// 0-based bit position.
    pub index: usize,
    /// The character position it comes from.
    pub char_position: usize,
    /// Tokens contributing to this bit.
    pub samples: usize,
    /// How many of them have it set.
    pub ones: usize,
    /// The bit never varies.
    pub constant: bool,
    /// Monobit test p-value.
    pub monobit_p: f64,
    /// Runs test p-value (`None` below 20 samples).
    pub runs_p: Option<f64>,
    /// Poker test p-value (`None` below 40 samples).
    pub poker_p: Option<f64>,
    /// Longest run of equal values.
    pub longest_run: usize,
    /// Long-run test p-value (two-sided).
    pub long_run_p: f64,
    /// A bit position this one copies or mirrors, if the correlation test found one.
    pub correlated_with: Option<usize>,
    /// Bonferroni-adjusted p-value of that correlation.
    pub correlation_p: Option<f64>,
    /// Lowest p-value among the tests (0 if constant).
    pub score: f64,
}

/// Effective entropy at one significance level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelCount {
    /// The significance level (0.01 = 1%).
    pub significance: f64,
    /// Bit positions whose score is at least that level.
    pub bits: usize,
}

/// One FIPS 140-2 power-up test run on a 20,000-bit block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FipsBlock {
    /// Ones in the block (pass: 9725 < X < 10275).
    pub ones: usize,
    /// Monobit passed.
    pub monobit_pass: bool,
    /// Poker statistic (pass: 2.16 < X < 46.17).
    pub poker: f64,
    /// Poker passed.
    pub poker_pass: bool,
    /// Runs of zeros by length 1, 2, 3, 4, 5, 6+.
    pub zero_runs: [usize; 6],
    /// Runs of ones by length 1, 2, 3, 4, 5, 6+.
    pub one_runs: [usize; 6],
    /// Runs passed.
    pub runs_pass: bool,
    /// Longest run (fail if ≥ 26).
    pub longest_run: usize,
    /// Long-run passed.
    pub long_run_pass: bool,
}

impl FipsBlock {
    /// All four tests passed.
    pub fn pass(&self) -> bool {
        self.monobit_pass && self.poker_pass && self.runs_pass && self.long_run_pass
    }
}

/// FIPS 140-2 tests over the concatenated bits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FipsReport {
    /// 20,000-bit blocks tested.
    pub blocks: usize,
    /// Blocks failing at least one test.
    pub failed_blocks: usize,
    /// The first block's results.
    pub first_block: FipsBlock,
}

/// NIST SP 800-22 p-values over the concatenated bits (`None` when the stream is too short).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NistReport {
    /// Frequency (monobit).
    pub frequency_p: Option<f64>,
    /// Block frequency.
    pub block_frequency_p: Option<f64>,
    /// Block size used by block frequency.
    pub block_size: Option<usize>,
    /// Runs.
    pub runs_p: Option<f64>,
    /// Longest run of ones in a block.
    pub longest_run_p: Option<f64>,
    /// Cumulative sums, forward.
    pub cusum_forward_p: Option<f64>,
    /// Cumulative sums, reverse.
    pub cusum_reverse_p: Option<f64>,
}

/// Tests on the concatenation of all tokens' bits (informational).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamTests {
    /// Bits in the stream tested.
    pub bits: usize,
    /// The stream was cut at 1,000,000 bits.
    pub truncated: bool,
    /// FIPS 140-2, when there are at least 20,000 bits.
    pub fips: Option<FipsReport>,
    /// NIST SP 800-22.
    pub nist: NistReport,
}

/// Kinds of pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// Some tokens are equal.
    Duplicates,
    /// A counter.
    Counter,
    /// A timestamp.
    Timestamp,
    /// All tokens start the same.
    ConstantPrefix,
    /// All tokens end the same.
    ConstantSuffix,
    /// Character positions that never vary (other than prefix and suffix).
    ConstantPositions,
    /// Bit positions that never vary.
    ConstantBits,
    /// Tokens shorter than 16 characters or 64 bits.
    ShortTokens,
    /// Tokens that are data, not random identifiers.
    Data,
    /// The tokens are listed in sorted order.
    Sorted,
}

impl PatternKind {
    /// The name a report shows for this kind of pattern.
    pub fn name(self) -> &'static str {
        match self {
            Self::Duplicates => "duplicates",
            Self::Counter => "counter",
            Self::Timestamp => "timestamp",
            Self::ConstantPrefix => "constant prefix",
            Self::ConstantSuffix => "constant suffix",
            Self::ConstantPositions => "constant positions",
            Self::ConstantBits => "constant bits",
            Self::ShortTokens => "short tokens",
            Self::Data => "data",
            Self::Sorted => "sorted",
        }
    }
}

/// Something found in the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pattern {
    /// What kind.
    pub kind: PatternKind,
    /// Makes tokens predictable (fails the verdict).
    pub predictable: bool,
    /// One line saying what was seen.
    pub detail: String,
}

/// Formats of data tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// A JSON Web Token (`header.payload.signature`, JSON header).
    Jwt,
    /// itsdangerous / Flask `payload.timestamp.signature`.
    Itsdangerous,
    /// express / cookie-signature `s:value.signature`.
    ExpressSigned,
    /// Rails signed or encrypted cookie `data--digest`.
    RailsSigned,
    /// base64 of JSON.
    Base64Json,
}

impl DataKind {
    /// A short name of the data format.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jwt => "JWT",
            Self::Itsdangerous => "itsdangerous/Flask signed payload",
            Self::ExpressSigned => "express signed cookie",
            Self::RailsSigned => "Rails signed/encrypted cookie",
            Self::Base64Json => "base64 of JSON",
        }
    }
}

/// Tokens recognised as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataFormat {
    /// Which format.
    pub kind: DataKind,
    /// Tokens matching it.
    pub matching: usize,
    /// One line about it.
    pub detail: String,
}

/// Result of [`analyse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntropyReport {
    /// Tokens analysed.
    pub samples: usize,
    /// Token lengths.
    pub lengths: LengthStats,
    /// Distinct tokens.
    pub distinct: usize,
    /// Tokens equal to an earlier one.
    pub duplicates: usize,
    /// How tokens were turned into bits.
    pub encoding: Encoding,
    /// Bit positions per token after conversion (at most [`MAX_BIT_POSITIONS`]).
    pub bits_per_token: usize,
    /// Tokens had more bit positions than were analysed.
    pub bits_truncated: bool,
    /// Character-level analysis, per position.
    pub char_positions: Vec<CharPosition>,
    /// Sum of `bits` over character positions (Burp's character-level maximum).
    pub char_bits: u32,
    /// Sum of `bits` over character positions scoring at least 1%.
    pub char_effective_bits: u32,
    /// Bit-level analysis, per bit position.
    pub bit_positions: Vec<BitPosition>,
    /// Each bit position's score, for a chart.
    pub bit_scores: Vec<f64>,
    /// Bit positions scoring at least 1% (Burp's headline effective entropy).
    pub effective_bits: usize,
    /// Effective entropy at each level of [`SIGNIFICANCE_LEVELS`].
    pub effective_bits_by_level: Vec<LevelCount>,
    /// The level used for the verdict ([`VERDICT_SIGNIFICANCE`]).
    pub verdict_significance: f64,
    /// Bit positions scoring at least [`VERDICT_SIGNIFICANCE`].
    pub verdict_bits: usize,
    /// The correlation test ran (at most 1,024 bit positions).
    pub correlation_tested: bool,
    /// Tests on the concatenated bits.
    pub stream: StreamTests,
    /// Patterns found.
    pub patterns: Vec<Pattern>,
    /// Set when the tokens look like data, not identifiers.
    pub data_format: Option<DataFormat>,
    /// The verdict.
    pub verdict: Verdict,
    /// One line explaining it.
    pub reason: String,
    /// What the sample can and cannot show.
    pub caveats: Vec<String>,
}

/// Analyses `tokens`, given in the order they were issued.
///
/// # Errors
///
/// Fewer than [`MIN_TOKENS`] or more than [`MAX_TOKENS`] tokens, an empty token, a token longer
/// than [`MAX_TOKEN_BYTES`], or a byte outside printable ASCII.
pub fn analyse(tokens: &[String]) -> Result<EntropyReport, EntropyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    analyse_at(tokens, now)
}

fn validate(tokens: &[String]) -> Result<(), EntropyError> {
    if tokens.len() > MAX_TOKENS {
        return Err(EntropyError::TooMany {
            got: tokens.len(),
            max: MAX_TOKENS,
        });
    }
    for (i, token) in tokens.iter().enumerate() {
        let line = i + 1;
        if token.is_empty() {
            return Err(EntropyError::Empty { line });
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(EntropyError::TooLong {
                line,
                len: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        if let Some((col, &byte)) = token
            .as_bytes()
            .iter()
            .enumerate()
            .find(|(_, b)| !b.is_ascii_graphic())
        {
            return Err(EntropyError::NotPrintable {
                line,
                column: col + 1,
                byte,
            });
        }
    }
    if tokens.len() < MIN_TOKENS {
        return Err(EntropyError::TooFew {
            got: tokens.len(),
            needed: MIN_TOKENS,
        });
    }
    Ok(())
}

fn analyse_at(tokens: &[String], now: i64) -> Result<EntropyReport, EntropyError> {
    validate(tokens)?;
    let n = tokens.len();
    let lengths = LengthStats {
        min: tokens.iter().map(String::len).min().unwrap_or(0),
        max: tokens.iter().map(String::len).max().unwrap_or(0),
        mean: tokens.iter().map(String::len).sum::<usize>() as f64 / n as f64,
    };

    // Duplicates.
    let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(n);
    let mut duplicate_examples = Vec::new();
    let mut duplicates = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        match first_seen.get(t.as_str()) {
            Some(&first) => {
                duplicates += 1;
                if duplicate_examples.len() < 3 {
                    duplicate_examples.push(format!("token #{} repeats #{}", i + 1, first + 1));
                }
            }
            None => {
                first_seen.insert(t.as_str(), i);
            }
        }
    }
    let distinct = first_seen.len();
    drop(first_seen);

    let chars = char_analysis(tokens);
    let conversion = convert(tokens, &chars);
    let bit_analysis = bit_level(&conversion, n);

    let effective_bits_by_level: Vec<LevelCount> = SIGNIFICANCE_LEVELS
        .iter()
        .map(|&level| LevelCount {
            significance: level,
            bits: count_at(&bit_analysis.positions, level),
        })
        .collect();
    let effective_bits = count_at(&bit_analysis.positions, HEADLINE_SIGNIFICANCE);
    let verdict_bits = count_at(&bit_analysis.positions, VERDICT_SIGNIFICANCE);

    let stream = stream_tests(&conversion.stream, conversion.stream_truncated);

    // Patterns.
    let mut patterns = Vec::new();
    if duplicates > 0 {
        patterns.push(Pattern {
            kind: PatternKind::Duplicates,
            predictable: true,
            detail: format!(
                "{duplicates} of {n} tokens repeat an earlier one ({})",
                duplicate_examples.join(", ")
            ),
        });
    }
    let fields = numeric_fields(tokens, &conversion);
    let timestamp = find_timestamp(&fields, now);
    if let Some((detail, _)) = &timestamp {
        patterns.push(Pattern {
            kind: PatternKind::Timestamp,
            predictable: true,
            detail: detail.clone(),
        });
    }
    if let Some(detail) = find_counter(&fields, now, timestamp.map(|(_, span)| span)) {
        patterns.push(Pattern {
            kind: PatternKind::Counter,
            predictable: true,
            detail,
        });
    }
    constant_patterns(tokens, &chars, &bit_analysis.positions, &mut patterns);
    if lengths.min < SHORT_CHARS || conversion.bits_per_token < SHORT_BITS {
        patterns.push(Pattern {
            kind: PatternKind::ShortTokens,
            predictable: false,
            detail: format!(
                "tokens are short: {}–{} characters, {} bits after conversion (want ≥ {SHORT_CHARS} characters and ≥ {SHORT_BITS} bits)",
                lengths.min, lengths.max, conversion.bits_per_token
            ),
        });
    }
    let data_format = detect_data(tokens, now);
    if let Some(data) = &data_format {
        patterns.push(Pattern {
            kind: PatternKind::Data,
            predictable: false,
            detail: data.detail.clone(),
        });
    }
    let sorted = n >= 10
        && (tokens.windows(2).all(|w| w.first() <= w.get(1))
            || tokens.windows(2).all(|w| w.first() >= w.get(1)));
    let ordered_by_content = patterns
        .iter()
        .any(|p| matches!(p.kind, PatternKind::Counter | PatternKind::Timestamp));
    if sorted && !ordered_by_content {
        patterns.push(Pattern {
            kind: PatternKind::Sorted,
            predictable: false,
            detail: "the tokens are in sorted order: unless the generator issues them so, list them in the order they were issued, as the transition, runs and counter tests depend on it".to_owned(),
        });
    }

    let (verdict, reason) = decide(
        n,
        duplicates,
        &patterns,
        data_format.as_ref(),
        verdict_bits,
        conversion.bits_per_token,
    );

    let mut caveats = vec![
        "statistical tests only show non-randomness: the effective entropy is an upper-bound estimate (Burp: an indicative guide); a hashed counter or a seeded generator passes them".to_owned(),
        format!(
            "with {n} tokens a bit is rejected at 1% only if it is set in under {:.0}% or over {:.0}% of them; {}",
            50.0 - 100.0 * 1.29 / (n as f64).sqrt(),
            50.0 + 100.0 * 1.29 / (n as f64).sqrt(),
            if n < 5000 {
                "5,000 tokens make a reliable analysis (Burp), 20,000 a FIPS-grade one"
            } else if n < 20_000 {
                "20,000 tokens make a FIPS-grade analysis"
            } else {
                "the sample is FIPS-grade in size"
            }
        ),
    ];
    if n < MIN_TOKENS_FOR_PASS {
        caveats.push(format!(
            "only {n} tokens: collect at least {MIN_TOKENS_FOR_PASS} for a pass"
        ));
    }
    if conversion.bits_truncated {
        caveats.push(format!(
            "only the first {MAX_BIT_POSITIONS} bit positions of each token were analysed"
        ));
    }
    if !bit_analysis.correlation_tested {
        caveats.push(
            "more than 1,024 bit positions: the correlation test between bit positions did not run"
                .to_owned(),
        );
    }

    Ok(EntropyReport {
        samples: n,
        lengths,
        distinct,
        duplicates,
        encoding: conversion.encoding,
        bits_per_token: conversion.bits_per_token,
        bits_truncated: conversion.bits_truncated,
        char_bits: chars.iter().map(|c| c.report.bits).sum(),
        char_effective_bits: chars
            .iter()
            .filter(|c| c.report.score >= HEADLINE_SIGNIFICANCE)
            .map(|c| c.report.bits)
            .sum(),
        char_positions: chars.into_iter().map(|c| c.report).collect(),
        bit_scores: bit_analysis.positions.iter().map(|b| b.score).collect(),
        bit_positions: bit_analysis.positions,
        effective_bits,
        effective_bits_by_level,
        verdict_significance: VERDICT_SIGNIFICANCE,
        verdict_bits,
        correlation_tested: bit_analysis.correlation_tested,
        stream,
        patterns,
        data_format,
        verdict,
        reason,
        caveats,
    })
}
