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

fn count_at(bits: &[BitPosition], level: f64) -> usize {
    bits.iter().filter(|b| b.score >= level).count()
}

fn decide(
    n: usize,
    duplicates: usize,
    patterns: &[Pattern],
    data: Option<&DataFormat>,
    verdict_bits: usize,
    bits_per_token: usize,
) -> (Verdict, String) {
    if duplicates > 0 {
        return (
            Verdict::Fail,
            format!("{duplicates} duplicate tokens among {n}: tokens must be unique"),
        );
    }
    if let Some(data) = data {
        return (
            Verdict::Warn,
            format!(
                "the tokens look like data ({}), not random identifiers: their randomness is not scored",
                data_kind_name(data.kind)
            ),
        );
    }
    if let Some(p) = patterns
        .iter()
        .find(|p| p.predictable && p.kind != PatternKind::Duplicates)
    {
        let what = match p.kind {
            PatternKind::Timestamp => "a timestamp",
            _ => "a counter",
        };
        return (
            Verdict::Fail,
            format!("the tokens contain {what}: {}", p.detail),
        );
    }
    if verdict_bits < FAIL_BELOW_BITS {
        return (
            Verdict::Fail,
            format!(
                "only {verdict_bits} of {bits_per_token} bits look random (at 10⁻⁶); at least {FAIL_BELOW_BITS} are required (ASVS 4.0.3 3.2.2)"
            ),
        );
    }
    if verdict_bits < WARN_BELOW_BITS {
        return (
            Verdict::Warn,
            format!(
                "{verdict_bits} of {bits_per_token} bits look random (at 10⁻⁶): at least {FAIL_BELOW_BITS}, but fewer than the {WARN_BELOW_BITS} ASVS 5.0 7.2.3 asks for"
            ),
        );
    }
    if n < MIN_TOKENS_FOR_PASS {
        return (
            Verdict::Warn,
            format!(
                "{verdict_bits} of {bits_per_token} bits look random, but {n} tokens are too few to pass: collect at least {MIN_TOKENS_FOR_PASS}"
            ),
        );
    }
    (
        Verdict::Pass,
        format!(
            "{verdict_bits} of {bits_per_token} bits look random (at 10⁻⁶; ≥ {WARN_BELOW_BITS} wanted) and no predictable pattern was found"
        ),
    )
}

/// A short name of a data format.
pub fn data_kind_name(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Jwt => "JWT",
        DataKind::Itsdangerous => "itsdangerous/Flask signed payload",
        DataKind::ExpressSigned => "express signed cookie",
        DataKind::RailsSigned => "Rails signed/encrypted cookie",
        DataKind::Base64Json => "base64 of JSON",
    }
}

// ---------------------------------------------------------------------------------------------
// Character level

struct CharInfo {
    report: CharPosition,
    /// Sorted characters seen at this position.
    alphabet: Vec<u8>,
}

fn char_analysis(tokens: &[String]) -> Vec<CharInfo> {
    let positions = tokens.iter().map(String::len).max().unwrap_or(0);
    let mut counts: Vec<[u32; 128]> = vec![[0; 128]; positions];
    for t in tokens {
        for (slot, &b) in counts.iter_mut().zip(t.as_bytes()) {
            if let Some(c) = slot.get_mut(usize::from(b & 0x7f)) {
                *c += 1;
            }
        }
    }
    // Index of each byte in its position's alphabet.
    let alphabets: Vec<Vec<u8>> = counts
        .iter()
        .map(|c| {
            (0u8..128)
                .filter(|&b| c.get(usize::from(b)).is_some_and(|&x| x > 0))
                .collect()
        })
        .collect();
    let mut index: Vec<[u8; 128]> = vec![[0; 128]; positions];
    for (ix, alpha) in index.iter_mut().zip(&alphabets) {
        for (i, &b) in alpha.iter().enumerate() {
            if let Some(slot) = ix.get_mut(usize::from(b)) {
                *slot = u8::try_from(i).unwrap_or(u8::MAX);
            }
        }
    }
    // Transitions: (index in next token − index in this token) mod k.
    let mut steps: Vec<[u32; 128]> = vec![[0; 128]; positions];
    let mut prev: Vec<Option<u8>> = vec![None; positions];
    for t in tokens {
        for (p, &b) in t.as_bytes().iter().enumerate() {
            let (Some(ix), Some(alpha), Some(prev_slot), Some(step_counts)) = (
                index.get(p),
                alphabets.get(p),
                prev.get_mut(p),
                steps.get_mut(p),
            ) else {
                continue;
            };
            let i = ix.get(usize::from(b)).copied().unwrap_or(0);
            let k = alpha.len();
            if let Some(before) = *prev_slot {
                if k > 0 {
                    let d = (usize::from(i) + k - usize::from(before)) % k;
                    if let Some(c) = step_counts.get_mut(d) {
                        *c += 1;
                    }
                }
            }
            *prev_slot = Some(i);
        }
    }
    counts
        .iter()
        .zip(alphabets)
        .zip(&steps)
        .enumerate()
        .map(|(position, ((count, alphabet), step_counts))| {
            let k = alphabet.len();
            let samples: u32 = count.iter().sum();
            let samples = samples as usize;
            let bits = floor_log2(k);
            let observed: Vec<f64> = alphabet
                .iter()
                .map(|&b| f64::from(count.get(usize::from(b)).copied().unwrap_or(0)))
                .collect();
            let uniformity_p = (k >= 2).then(|| chi_square_uniform(&observed));
            let transitions: u32 = step_counts.iter().sum();
            let transition_p = (k >= 2 && transitions as usize >= k).then(|| {
                let cells: Vec<f64> = step_counts.iter().take(k).map(|&c| f64::from(c)).collect();
                chi_square_uniform(&cells)
            });
            let score = if k < 2 {
                0.0
            } else {
                uniformity_p
                    .into_iter()
                    .chain(transition_p)
                    .fold(1.0_f64, f64::min)
            };
            CharInfo {
                report: CharPosition {
                    position,
                    samples,
                    distinct: k,
                    bits,
                    uniformity_p,
                    transition_p,
                    score,
                },
                alphabet,
            }
        })
        .collect()
}

fn floor_log2(k: usize) -> u32 {
    if k < 2 {
        0
    } else {
        usize::BITS - 1 - k.leading_zeros()
    }
}

/// p-value of a chi-square test that `observed` cell counts are uniform.
fn chi_square_uniform(observed: &[f64]) -> f64 {
    let k = observed.len();
    let total: f64 = observed.iter().sum();
    if k < 2 || total <= 0.0 {
        return 1.0;
    }
    let expected = total / k as f64;
    let x: f64 = observed
        .iter()
        .map(|&o| (o - expected) * (o - expected) / expected)
        .sum();
    chi2_sf(x, (k - 1) as f64)
}

// ---------------------------------------------------------------------------------------------
// Conversion to bits

/// Bit columns, one per bit position: bit `t` of `values` is token `t`'s bit, valid where set in
/// `present`.
struct Column {
    values: Vec<u64>,
    present: Vec<u64>,
    samples: usize,
    ones: usize,
    char_position: usize,
}

impl Column {
    fn new(tokens: usize, char_position: usize) -> Self {
        let words = tokens.div_ceil(64);
        Self {
            values: vec![0; words],
            present: vec![0; words],
            samples: 0,
            ones: 0,
            char_position,
        }
    }

    fn set(&mut self, token: usize, bit: bool) {
        let word = token / 64;
        let mask = 1u64 << (token % 64);
        if let Some(p) = self.present.get_mut(word) {
            *p |= mask;
        }
        if bit {
            if let Some(v) = self.values.get_mut(word) {
                *v |= mask;
            }
            self.ones += 1;
        }
        self.samples += 1;
    }

    /// The present bits, in token order.
    fn sequence(&self, out: &mut Vec<u8>) {
        out.clear();
        for (&v, &p) in self.values.iter().zip(&self.present) {
            let mut rest = p;
            while rest != 0 {
                let b = rest.trailing_zeros();
                out.push(u8::from((v >> b) & 1 == 1));
                rest &= rest - 1;
            }
        }
    }
}

const ABSENT: u8 = 2;

struct Conversion {
    encoding: Encoding,
    columns: Vec<Column>,
    bits_per_token: usize,
    bits_truncated: bool,
    stream: Vec<u8>,
    stream_truncated: bool,
    /// The first tokens' bits (0/1/ABSENT), for pattern detection.
    token_bits: Vec<Vec<u8>>,
}

/// Per-position bit mapping for [`Encoding::Characters`].
struct CharMap {
    offset: usize,
    bits: u32,
    /// Index of each byte in the position's alphabet.
    index: [u8; 128],
}

enum Plan {
    Hex,
    Decoded(Vec<Vec<u8>>),
    Characters(Vec<CharMap>),
}

fn lenient(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

fn detect_encoding(tokens: &[String], chars: &[CharInfo]) -> (Encoding, Plan) {
    let all = |pred: &dyn Fn(u8) -> bool| tokens.iter().all(|t| t.bytes().all(pred));
    let any = |pred: &dyn Fn(u8) -> bool| tokens.iter().any(|t| t.bytes().any(pred));
    let lower_hex = all(&|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let upper_hex = all(&|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    if (lower_hex || upper_hex) && any(&|b: u8| b.is_ascii_alphabetic()) {
        return (Encoding::Hex, Plan::Hex);
    }
    // A base64 special character must appear at a position that varies: a constant `sess_`
    // prefix before alphanumeric random text is not base64.
    let special_at_varying = |specials: &[u8]| {
        chars
            .iter()
            .any(|c| c.report.distinct > 1 && c.alphabet.iter().any(|b| specials.contains(b)))
    };
    let url_alphabet = all(&|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=');
    let std_alphabet = all(&|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    let padded = any(&|b| b == b'=');
    let candidate = if url_alphabet && special_at_varying(b"-_") {
        Some((Encoding::Base64Url, lenient(&alphabet::URL_SAFE)))
    } else if std_alphabet && (special_at_varying(b"+/") || padded) {
        Some((Encoding::Base64, lenient(&alphabet::STANDARD)))
    } else {
        None
    };
    if let Some((encoding, engine)) = candidate {
        let decoded: Option<Vec<Vec<u8>>> = tokens
            .iter()
            .map(|t| engine.decode(t).ok().filter(|d| !d.is_empty()))
            .collect();
        if let Some(decoded) = decoded {
            return (encoding, Plan::Decoded(decoded));
        }
    }
    let mut offset = 0;
    let maps = chars
        .iter()
        .map(|c| {
            let mut index = [0u8; 128];
            for (i, &b) in c.alphabet.iter().enumerate() {
                if let Some(slot) = index.get_mut(usize::from(b)) {
                    *slot = u8::try_from(i).unwrap_or(u8::MAX);
                }
            }
            let map = CharMap {
                offset,
                bits: c.report.bits,
                index,
            };
            offset += c.report.bits as usize;
            map
        })
        .collect();
    (Encoding::Characters, Plan::Characters(maps))
}

/// Writes token `t`'s bits into `out` as 0, 1 or [`ABSENT`], and returns the character
/// position of each bit through `char_of`.
fn token_bits(plan: &Plan, t: usize, token: &str, out: &mut Vec<u8>) {
    out.clear();
    match plan {
        Plan::Hex => {
            for b in token.bytes() {
                let v = char::from(b).to_digit(16).unwrap_or(0);
                for shift in (0..4).rev() {
                    out.push(u8::from((v >> shift) & 1 == 1));
                }
            }
        }
        Plan::Decoded(decoded) => {
            for &byte in decoded.get(t).map(Vec::as_slice).unwrap_or(&[]) {
                for shift in (0..8).rev() {
                    out.push((byte >> shift) & 1);
                }
            }
        }
        Plan::Characters(maps) => {
            for (map, b) in maps.iter().zip(token.bytes()) {
                let i = u32::from(map.index.get(usize::from(b)).copied().unwrap_or(0));
                out.resize(map.offset, ABSENT);
                if map.bits == 0 {
                    continue;
                }
                // Rejection: indexes past 2^bits are left out, so the rest are uniform.
                if i >> map.bits != 0 {
                    out.extend(std::iter::repeat_n(ABSENT, map.bits as usize));
                } else {
                    for shift in (0..map.bits).rev() {
                        out.push(u8::from((i >> shift) & 1 == 1));
                    }
                }
            }
        }
    }
}

fn char_position_of(encoding: Encoding, plan: &Plan, bit: usize) -> usize {
    match (encoding, plan) {
        (Encoding::Hex, _) => bit / 4,
        (Encoding::Base64 | Encoding::Base64Url, _) => bit / 6,
        (_, Plan::Characters(maps)) => maps
            .iter()
            .rposition(|m| m.bits > 0 && m.offset <= bit)
            .unwrap_or(0),
        _ => 0,
    }
}

fn convert(tokens: &[String], chars: &[CharInfo]) -> Conversion {
    let (encoding, plan) = detect_encoding(tokens, chars);
    let n = tokens.len();
    let mut bits = Vec::new();
    let mut per_token_len = 0usize;
    for (t, token) in tokens.iter().enumerate() {
        token_bits(&plan, t, token, &mut bits);
        per_token_len = per_token_len.max(bits.len());
    }
    let bits_per_token = per_token_len.min(MAX_BIT_POSITIONS);
    let mut columns: Vec<Column> = (0..bits_per_token)
        .map(|j| Column::new(n, char_position_of(encoding, &plan, j)))
        .collect();
    let mut stream = Vec::new();
    let mut stream_truncated = false;
    let mut token_bits_kept = Vec::new();
    for (t, token) in tokens.iter().enumerate() {
        token_bits(&plan, t, token, &mut bits);
        for (column, &b) in columns.iter_mut().zip(&bits) {
            if b != ABSENT {
                column.set(t, b == 1);
            }
        }
        for &b in bits.iter().filter(|&&b| b != ABSENT) {
            if stream.len() < MAX_STREAM_BITS {
                stream.push(b);
            } else {
                stream_truncated = true;
                break;
            }
        }
        if t < MAX_PATTERN_TOKENS {
            token_bits_kept.push(bits.iter().take(MAX_WINDOW_OFFSET + 64).copied().collect());
        }
    }
    Conversion {
        encoding,
        columns,
        bits_per_token,
        bits_truncated: per_token_len > MAX_BIT_POSITIONS,
        stream,
        stream_truncated,
        token_bits: token_bits_kept,
    }
}

// ---------------------------------------------------------------------------------------------
// Bit level

struct BitAnalysis {
    positions: Vec<BitPosition>,
    correlation_tested: bool,
}

/// The results of the per-bit tests on one sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BitTests {
    monobit: f64,
    runs: Option<f64>,
    poker: Option<f64>,
    longest_run: usize,
    long_run: f64,
}

impl BitTests {
    fn score(&self) -> f64 {
        [
            Some(self.monobit),
            self.runs,
            self.poker,
            Some(self.long_run),
        ]
        .into_iter()
        .flatten()
        .fold(1.0, f64::min)
    }
}

fn bit_level(conversion: &Conversion, n: usize) -> BitAnalysis {
    let mut cache = RunCache::default();
    let mut seq = Vec::with_capacity(n);
    let mut positions: Vec<BitPosition> = conversion
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            column.sequence(&mut seq);
            let constant = column.ones == 0 || column.ones == column.samples;
            let tests = bit_tests(&seq, &mut cache);
            BitPosition {
                index,
                char_position: column.char_position,
                samples: column.samples,
                ones: column.ones,
                constant,
                monobit_p: tests.monobit,
                runs_p: tests.runs,
                poker_p: tests.poker,
                longest_run: tests.longest_run,
                long_run_p: tests.long_run,
                correlated_with: None,
                correlation_p: None,
                score: if constant { 0.0 } else { tests.score() },
            }
        })
        .collect();
    let correlation_tested = positions.len() <= MAX_CORRELATION_BITS;
    if correlation_tested {
        correlate(&conversion.columns, &mut positions);
    }
    BitAnalysis {
        positions,
        correlation_tested,
    }
}

/// The per-bit tests (see the module docs) on a sequence of 0/1 values.
fn bit_tests(seq: &[u8], cache: &mut RunCache) -> BitTests {
    let n = seq.len();
    let longest = longest_run(seq);
    BitTests {
        monobit: monobit_p(seq),
        runs: runs_distribution_p(seq).or_else(|| runs_total_p(seq)),
        poker: poker_p(seq),
        longest_run: longest,
        long_run: long_run_p(n, longest, cache),
    }
}

/// Two-sided monobit test with continuity correction.
fn monobit_p(seq: &[u8]) -> f64 {
    let n = seq.len();
    if n == 0 {
        return 1.0;
    }
    let ones = seq.iter().filter(|&&b| b == 1).count();
    let d = (2 * ones).abs_diff(n) as f64;
    let z = ((d - 1.0).max(0.0)) / (n as f64).sqrt();
    erfc(z / std::f64::consts::SQRT_2)
}

/// FIPS-style runs test, recalibrated: given the number of runs of each value, run lengths of
/// fair bits are independent and geometric (`P(length = i) = 2^-i`), so the counts of runs of
/// length 1, 2, …, `k−1` and `≥ k` (for ones and for zeros) are multinomial; chi-square with
/// `2(k−1)` degrees of freedom, `k` the largest with at least 5 expected in the last cell. The
/// final run, cut short by the end of the sequence, is left out. `None` when `k < 2`.
fn runs_distribution_p(seq: &[u8]) -> Option<f64> {
    let runs: Vec<&[u8]> = seq.chunk_by(|a, b| a == b).collect();
    let complete = runs.len().checked_sub(1)?;
    let mut ones = Vec::new();
    let mut zeros = Vec::new();
    for run in runs.iter().take(complete) {
        if run.first() == Some(&1) {
            ones.push(run.len());
        } else {
            zeros.push(run.len());
        }
    }
    let cells = |count: usize| {
        let mut k = 1usize;
        while k < 30 && count as f64 * 0.5_f64.powi(i32::try_from(k).unwrap_or(30)) >= 5.0 {
            k += 1;
        }
        k
    };
    let k = cells(ones.len()).min(cells(zeros.len()));
    if k < 2 {
        return None;
    }
    let mut x = 0.0;
    for lengths in [&ones, &zeros] {
        let total = lengths.len() as f64;
        let mut counts = vec![0usize; k];
        for &len in lengths.iter() {
            if let Some(c) = counts.get_mut(len.clamp(1, k) - 1) {
                *c += 1;
            }
        }
        for (i, &c) in counts.iter().enumerate() {
            // Cells 1..k−1 have probability 2^-i; the last (≥ k) has 2^-(k−1).
            let exponent = i32::try_from((i + 1).min(k - 1)).unwrap_or(30);
            let e = total * 0.5_f64.powi(exponent);
            x += (c as f64 - e).powi(2) / e;
        }
    }
    Some(chi2_sf(x, (2 * (k - 1)) as f64))
}

/// Wald–Wolfowitz runs test (total number of runs given the counts of ones and zeros).
fn runs_total_p(seq: &[u8]) -> Option<f64> {
    let n = seq.len();
    if n < 20 {
        return None;
    }
    let ones = seq.iter().filter(|&&b| b == 1).count() as f64;
    let zeros = n as f64 - ones;
    if ones == 0.0 || zeros == 0.0 {
        return Some(0.0);
    }
    let runs = seq.chunk_by(|a, b| a == b).count() as f64;
    let nf = n as f64;
    let mean = 1.0 + 2.0 * ones * zeros / nf;
    let var = (mean - 1.0) * (mean - 2.0) / (nf - 1.0);
    if var <= 0.0 {
        return None;
    }
    let z = ((runs - mean).abs() - 0.5).max(0.0) / var.sqrt();
    Some(erfc(z / std::f64::consts::SQRT_2))
}

/// Poker test on non-overlapping `m`-bit groups, `m` the largest of 4, 3, 2 with at least 5
/// expected per cell.
fn poker_p(seq: &[u8]) -> Option<f64> {
    let n = seq.len();
    let m = [4usize, 3, 2].into_iter().find(|&m| n / m >= 5 << m)?;
    let cells = 1usize << m;
    let mut counts = vec![0u64; cells];
    let groups = n / m;
    for group in seq.chunks_exact(m) {
        let v = group
            .iter()
            .fold(0usize, |acc, &b| (acc << 1) | usize::from(b));
        if let Some(c) = counts.get_mut(v) {
            *c += 1;
        }
    }
    let sum_sq: f64 = counts.iter().map(|&c| (c as f64) * (c as f64)).sum();
    let x = cells as f64 / groups as f64 * sum_sq - groups as f64;
    Some(chi2_sf(x, (cells - 1) as f64))
}

fn longest_run(seq: &[u8]) -> usize {
    seq.chunk_by(|a, b| a == b)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// Caches `P(no run ≥ L in n fair bits)`.
#[derive(Default)]
struct RunCache {
    no_run: HashMap<(usize, usize), f64>,
}

impl RunCache {
    /// Probability that `n` fair bits have no run of `l` or more equal values.
    fn no_run(&mut self, n: usize, l: usize) -> f64 {
        if n == 0 {
            return 1.0;
        }
        if l <= 1 {
            return 0.0;
        }
        if l > n {
            return 1.0;
        }
        if let Some(&p) = self.no_run.get(&(n, l)) {
            return p;
        }
        // c(j) = (compositions of j into parts < l) / 2^j; P = 2·c(n).
        // c(0) = 1, c(1) = 1/2, c(j+1) = c(j) − c(j−l+1)/2^l for j ≥ 1.
        let scale = 0.5_f64.powi(i32::try_from(l).unwrap_or(i32::MAX));
        let mut c = vec![0.0_f64; n + 1];
        if let Some(first) = c.first_mut() {
            *first = 1.0;
        }
        if let Some(second) = c.get_mut(1) {
            *second = 0.5;
        }
        for j in 1..n {
            let cj = c.get(j).copied().unwrap_or(0.0);
            let back = if j + 1 >= l {
                c.get(j + 1 - l).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            if let Some(next) = c.get_mut(j + 1) {
                *next = (cj - back * scale).max(0.0);
            }
        }
        let p = (2.0 * c.get(n).copied().unwrap_or(0.0)).clamp(0.0, 1.0);
        self.no_run.insert((n, l), p);
        p
    }
}

/// Two-sided p-value of a longest run of `m` in `n` fair bits.
fn long_run_p(n: usize, m: usize, cache: &mut RunCache) -> f64 {
    if n == 0 {
        return 1.0;
    }
    // P(M ≥ m); past 48 the union bound n·2^(1−m) is already far below any level used.
    let at_least = if m > 48 {
        (n as f64 * 0.5_f64.powi(i32::try_from(m).unwrap_or(i32::MAX) - 1)).min(1.0)
    } else {
        1.0 - cache.no_run(n, m)
    };
    let at_most = if m + 1 > 48 {
        1.0
    } else {
        cache.no_run(n, m + 1)
    };
    (2.0 * at_least.min(at_most)).clamp(0.0, 1.0)
}

/// Marks bits that copy or mirror another bit (Burp's correlation test).
fn correlate(columns: &[Column], positions: &mut [BitPosition]) {
    let words = MAX_CORRELATION_TOKENS.div_ceil(64);
    let varying: Vec<usize> = positions
        .iter()
        .filter(|p| !p.constant)
        .map(|p| p.index)
        .collect();
    let pairs = varying.len() * varying.len().saturating_sub(1) / 2;
    if pairs == 0 {
        return;
    }
    let mut found: Vec<(f64, usize, usize)> = Vec::new();
    for (a_pos, &a) in varying.iter().enumerate() {
        let Some(ca) = columns.get(a) else { continue };
        for &b in varying.iter().skip(a_pos + 1) {
            let Some(cb) = columns.get(b) else { continue };
            let mut common = 0u32;
            let mut differ = 0u32;
            for (((va, pa), vb), pb) in ca
                .values
                .iter()
                .zip(&ca.present)
                .zip(&cb.values)
                .zip(&cb.present)
                .take(words)
            {
                let both = pa & pb;
                common += both.count_ones();
                differ += ((va ^ vb) & both).count_ones();
            }
            if common < 20 {
                continue;
            }
            let d = (2 * u64::from(differ)).abs_diff(u64::from(common)) as f64;
            let z = (d - 1.0).max(0.0) / f64::from(common).sqrt();
            let p = erfc(z / std::f64::consts::SQRT_2) * pairs as f64;
            if p < HEADLINE_SIGNIFICANCE {
                found.push((p, a, b));
            }
        }
    }
    found.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut redundant = vec![false; positions.len()];
    for (p, a, b) in found {
        if redundant.get(a).copied().unwrap_or(true) || redundant.get(b).copied().unwrap_or(true) {
            continue;
        }
        let score_a = positions.get(a).map_or(0.0, |x| x.score);
        let score_b = positions.get(b).map_or(0.0, |x| x.score);
        let (loser, other) = if score_a < score_b { (a, b) } else { (b, a) };
        if let Some(slot) = redundant.get_mut(loser) {
            *slot = true;
        }
        if let Some(bit) = positions.get_mut(loser) {
            bit.correlated_with = Some(other);
            bit.correlation_p = Some(p);
            bit.score = bit.score.min(p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stream tests

fn stream_tests(stream: &[u8], truncated: bool) -> StreamTests {
    let blocks: Vec<FipsBlock> = stream
        .chunks_exact(FIPS_BLOCK_BITS)
        .map(fips_block)
        .collect();
    let fips = blocks.first().map(|first| FipsReport {
        blocks: blocks.len(),
        failed_blocks: blocks.iter().filter(|b| !b.pass()).count(),
        first_block: first.clone(),
    });
    let n = stream.len();
    let enough = n >= 100;
    let block_size = enough.then(|| (n / 99 + 1).max(20));
    StreamTests {
        bits: n,
        truncated,
        fips,
        nist: NistReport {
            frequency_p: enough.then(|| nist_frequency(stream)),
            block_frequency_p: block_size.and_then(|m| nist_block_frequency(stream, m)),
            block_size,
            runs_p: enough.then(|| nist_runs(stream)),
            longest_run_p: nist_longest_run(stream),
            cusum_forward_p: enough.then(|| nist_cusum(stream, false)),
            cusum_reverse_p: enough.then(|| nist_cusum(stream, true)),
        },
    }
}

/// FIPS 140-2 (2001 change notice) power-up tests on one 20,000-bit block, exact bounds.
fn fips_block(bits: &[u8]) -> FipsBlock {
    let ones = bits.iter().filter(|&&b| b == 1).count();
    let mut nibbles = [0u64; 16];
    for group in bits.chunks_exact(4) {
        let v = group
            .iter()
            .fold(0usize, |acc, &b| (acc << 1) | usize::from(b));
        if let Some(c) = nibbles.get_mut(v) {
            *c += 1;
        }
    }
    let sum_sq: u64 = nibbles.iter().map(|&f| f * f).sum();
    let poker = 16.0 / 5000.0 * sum_sq as f64 - 5000.0;
    let mut zero_runs = [0usize; 6];
    let mut one_runs = [0usize; 6];
    for run in bits.chunk_by(|a, b| a == b) {
        let bucket = run.len().clamp(1, 6) - 1;
        let counts = if run.first() == Some(&1) {
            &mut one_runs
        } else {
            &mut zero_runs
        };
        if let Some(c) = counts.get_mut(bucket) {
            *c += 1;
        }
    }
    const RUN_BOUNDS: [(usize, usize); 6] = [
        (2315, 2685),
        (1114, 1386),
        (527, 723),
        (240, 384),
        (103, 209),
        (103, 209),
    ];
    let within = |counts: &[usize; 6]| {
        counts
            .iter()
            .zip(RUN_BOUNDS)
            .all(|(&c, (lo, hi))| (lo..=hi).contains(&c))
    };
    let longest = longest_run(bits);
    FipsBlock {
        ones,
        monobit_pass: ones > 9725 && ones < 10275,
        poker,
        poker_pass: poker > 2.16 && poker < 46.17,
        runs_pass: within(&zero_runs) && within(&one_runs),
        zero_runs,
        one_runs,
        longest_run: longest,
        long_run_pass: longest < 26,
    }
}

/// NIST SP 800-22 frequency (monobit) test.
fn nist_frequency(bits: &[u8]) -> f64 {
    let n = bits.len();
    if n == 0 {
        return 1.0;
    }
    let ones = bits.iter().filter(|&&b| b == 1).count();
    let s = (2 * ones).abs_diff(n) as f64;
    erfc(s / (n as f64).sqrt() / std::f64::consts::SQRT_2)
}

/// NIST SP 800-22 block frequency test with block size `m`.
fn nist_block_frequency(bits: &[u8], m: usize) -> Option<f64> {
    if m == 0 {
        return None;
    }
    let blocks = bits.len() / m;
    if blocks == 0 {
        return None;
    }
    let chi: f64 = bits
        .chunks_exact(m)
        .map(|block| {
            let pi = block.iter().filter(|&&b| b == 1).count() as f64 / m as f64;
            (pi - 0.5) * (pi - 0.5)
        })
        .sum::<f64>()
        * 4.0
        * m as f64;
    Some(igamc(blocks as f64 / 2.0, chi / 2.0))
}

/// NIST SP 800-22 runs test.
fn nist_runs(bits: &[u8]) -> f64 {
    let n = bits.len() as f64;
    if bits.len() < 2 {
        return 1.0;
    }
    let pi = bits.iter().filter(|&&b| b == 1).count() as f64 / n;
    if (pi - 0.5).abs() > 2.0 / n.sqrt() {
        return 0.0;
    }
    let v = bits.chunk_by(|a, b| a == b).count() as f64;
    let num = (v - 2.0 * n * pi * (1.0 - pi)).abs();
    let den = 2.0 * (2.0 * n).sqrt() * pi * (1.0 - pi);
    if den <= 0.0 {
        return 0.0;
    }
    erfc(num / den)
}

/// NIST SP 800-22 longest run of ones in a block (`None` below 128 bits).
fn nist_longest_run(bits: &[u8]) -> Option<f64> {
    let n = bits.len();
    let (m, min_class, pi): (usize, usize, &[f64]) = if n < 128 {
        return None;
    } else if n < 6272 {
        (8, 1, &[0.21484375, 0.3671875, 0.23046875, 0.1875])
    } else if n < 750_000 {
        (
            128,
            4,
            &[
                0.117_403_578_8,
                0.242_955_959,
                0.249_363_483,
                0.175_177_06,
                0.102_701_071,
                0.112_398_847,
            ],
        )
    } else {
        (
            10_000,
            10,
            &[0.0882, 0.2092, 0.2483, 0.1933, 0.1208, 0.0675, 0.0727],
        )
    };
    let classes = pi.len();
    let mut nu = vec![0u64; classes];
    let blocks = n / m;
    for block in bits.chunks_exact(m) {
        let run = block
            .chunk_by(|a, b| a == b)
            .filter(|r| r.first() == Some(&1))
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0);
        let class = run.clamp(min_class, min_class + classes - 1) - min_class;
        if let Some(c) = nu.get_mut(class) {
            *c += 1;
        }
    }
    let chi: f64 = nu
        .iter()
        .zip(pi)
        .map(|(&v, &p)| {
            let e = blocks as f64 * p;
            (v as f64 - e).powi(2) / e
        })
        .sum();
    Some(igamc((classes - 1) as f64 / 2.0, chi / 2.0))
}

/// NIST SP 800-22 cumulative sums test, as in the reference code.
fn nist_cusum(bits: &[u8], reverse: bool) -> f64 {
    let n = i64::try_from(bits.len()).unwrap_or(i64::MAX);
    if n == 0 {
        return 1.0;
    }
    let mut s = 0i64;
    let mut z = 0i64;
    let step = |b: &u8| if *b == 1 { 1 } else { -1 };
    if reverse {
        for b in bits.iter().rev() {
            s += step(b);
            z = z.max(s.abs());
        }
    } else {
        for b in bits {
            s += step(b);
            z = z.max(s.abs());
        }
    }
    if z == 0 {
        return 1.0;
    }
    let sqrt_n = (n as f64).sqrt();
    let zf = z as f64;
    let mut sum1 = 0.0;
    let mut k = (-n / z + 1) / 4;
    while k <= (n / z - 1) / 4 {
        let kf = k as f64;
        sum1 +=
            normal_cdf((4.0 * kf + 1.0) * zf / sqrt_n) - normal_cdf((4.0 * kf - 1.0) * zf / sqrt_n);
        k += 1;
    }
    let mut sum2 = 0.0;
    let mut k = (-n / z - 3) / 4;
    while k <= (n / z - 1) / 4 {
        let kf = k as f64;
        sum2 +=
            normal_cdf((4.0 * kf + 3.0) * zf / sqrt_n) - normal_cdf((4.0 * kf + 1.0) * zf / sqrt_n);
        k += 1;
    }
    (1.0 - sum1 + sum2).clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------------------------
// Patterns

/// A numeric field seen across tokens: its value in each token (if the token has it).
struct Field {
    label: String,
    values: Vec<Option<u128>>,
    /// Size of the field's value range (10^digits, 16^digits, 2^bits).
    range: f64,
    /// Character positions it covers (start, end exclusive) in the first token that has it.
    span: (usize, usize),
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn numeric_fields(tokens: &[String], conversion: &Conversion) -> Vec<Field> {
    let sample: Vec<&str> = tokens
        .iter()
        .take(MAX_PATTERN_TOKENS)
        .map(String::as_str)
        .collect();
    let n = sample.len();
    let mut fields = Vec::new();

    // Decimal digit runs, by their index among the token's digit runs.
    let runs: Vec<Vec<(usize, &str)>> = sample
        .iter()
        .map(|t| {
            let mut out = Vec::new();
            let mut start = None;
            for (i, b) in t.bytes().chain(std::iter::once(b' ')).enumerate() {
                match (b.is_ascii_digit(), start) {
                    (true, None) => start = Some(i),
                    (false, Some(s)) => {
                        if let Some(run) = t.get(s..i) {
                            out.push((s, run));
                        }
                        start = None;
                    }
                    _ => {}
                }
            }
            out
        })
        .collect();
    let max_runs = runs.iter().map(Vec::len).max().unwrap_or(0).min(16);
    for f in 0..max_runs {
        let digits = runs
            .iter()
            .filter_map(|r| r.get(f).map(|(_, s)| s.len()))
            .max()
            .unwrap_or(0);
        if digits > 38 {
            continue;
        }
        let (at, len) = runs
            .iter()
            .find_map(|r| r.get(f).map(|(s, run)| (*s, run.len())))
            .unwrap_or((0, 0));
        fields.push(Field {
            label: format!("the decimal number at character {}", at + 1),
            values: runs
                .iter()
                .map(|r| r.get(f).and_then(|(_, s)| s.parse::<u128>().ok()))
                .collect(),
            range: 10f64.powi(i32::try_from(digits).unwrap_or(38)),
            span: (at, at + len),
        });
    }

    // Hex segments between delimiters.
    let segments: Vec<Vec<(usize, &str)>> = sample
        .iter()
        .map(|t| {
            let mut at = 0;
            t.split(|c: char| !c.is_ascii_alphanumeric())
                .map(|seg| {
                    let start = at;
                    at += seg.len() + 1;
                    (start, seg)
                })
                .collect()
        })
        .collect();
    let max_segments = segments.iter().map(Vec::len).max().unwrap_or(0).min(16);
    for f in 0..max_segments {
        let column: Vec<Option<&str>> = segments
            .iter()
            .map(|s| s.get(f).map(|(_, seg)| *seg))
            .collect();
        let span = segments
            .iter()
            .find_map(|s| s.get(f).map(|(at, seg)| (*at, at + seg.len())))
            .unwrap_or((0, 0));
        let present: Vec<&str> = column.iter().flatten().copied().collect();
        let is_hex = |s: &str, upper: bool| {
            !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_digit()
                        || if upper {
                            (b'A'..=b'F').contains(&b)
                        } else {
                            (b'a'..=b'f').contains(&b)
                        }
                })
        };
        let hex_count = |upper: bool| present.iter().filter(|s| is_hex(s, upper)).count();
        let upper = hex_count(true) > hex_count(false);
        let hex = hex_count(upper);
        let has_letter = present
            .iter()
            .any(|s| s.bytes().any(|b| b.is_ascii_alphabetic()));
        let digits = present.iter().map(|s| s.len()).max().unwrap_or(0);
        if hex * 10 < n * 9 || !has_letter || digits > 32 {
            continue;
        }
        fields.push(Field {
            label: format!("hex field {} (between delimiters)", f + 1),
            values: column
                .iter()
                .map(|s| {
                    s.filter(|s| is_hex(s, upper))
                        .and_then(|s| u128::from_str_radix(s, 16).ok())
                })
                .collect(),
            range: 16f64.powi(i32::try_from(digits).unwrap_or(32)),
            span,
        });
    }

    // Windows of the decoded bits; for hex split by delimiters (UUIDs and the like), of the hex
    // digits with the delimiters removed.
    match conversion.encoding {
        Encoding::Hex => window_fields(
            &conversion.token_bits,
            "the decoded token",
            &|bit| bit / 4,
            &mut fields,
        ),
        Encoding::Base64 | Encoding::Base64Url => {
            window_fields(
                &conversion.token_bits,
                "the decoded token",
                &|bit| bit / 6,
                &mut fields,
            );
        }
        Encoding::Characters => {
            if let Some((digits, positions)) = delimited_hex(&sample) {
                let to_char = |bit: usize| {
                    positions
                        .get(bit / 4)
                        .or(positions.last())
                        .copied()
                        .unwrap_or(0)
                };
                window_fields(&digits, "the hex digits", &to_char, &mut fields);
            }
        }
    }
    fields
}

/// Fields for windows of `token_bits`: 4-bit aligned offsets in the first 256 bits, widths 8 to
/// 64 in steps of 4. `to_char` maps a bit to the character it comes from.
fn window_fields(
    token_bits: &[Vec<u8>],
    what: &str,
    to_char: &dyn Fn(usize) -> usize,
    fields: &mut Vec<Field>,
) {
    let longest = token_bits.iter().map(Vec::len).max().unwrap_or(0);
    for offset in (0..longest.min(MAX_WINDOW_OFFSET)).step_by(4) {
        let tops: Vec<Option<(u64, usize)>> = token_bits
            .iter()
            .map(|bits| window64(bits, offset))
            .collect();
        for width in (8..=64).step_by(4) {
            fields.push(Field {
                label: format!("bits {}–{} of {what}", offset, offset + width - 1),
                values: tops
                    .iter()
                    .map(|top| {
                        top.filter(|&(_, avail)| avail >= width)
                            .map(|(v, _)| u128::from(v >> (64 - width)))
                    })
                    .collect(),
                range: 2f64.powi(i32::try_from(width).unwrap_or(64)),
                span: (to_char(offset), to_char(offset + width - 1) + 1),
            });
        }
    }
}

/// Tokens made of hex digits and delimiters (`-`, `.`, `:` …), such as UUIDs: each token's
/// digits as bits (delimiters removed, first 320 bits), and the character position of each
/// digit in the first token. `None` unless every token is such, with a delimiter somewhere and
/// a letter somewhere.
fn delimited_hex(sample: &[&str]) -> Option<(Vec<Vec<u8>>, Vec<usize>)> {
    let delimited = sample
        .iter()
        .any(|t| t.bytes().any(|b| !b.is_ascii_alphanumeric()));
    let lettered = sample
        .iter()
        .any(|t| t.bytes().any(|b| b.is_ascii_alphabetic()));
    let case_ok = |upper: bool| {
        sample.iter().all(|t| {
            t.bytes().filter(u8::is_ascii_alphanumeric).all(|b| {
                b.is_ascii_digit()
                    || if upper {
                        (b'A'..=b'F').contains(&b)
                    } else {
                        (b'a'..=b'f').contains(&b)
                    }
            })
        })
    };
    if !delimited || !lettered || !(case_ok(false) || case_ok(true)) {
        return None;
    }
    let digits = sample
        .iter()
        .map(|t| {
            t.chars()
                .filter_map(|c| c.to_digit(16))
                .flat_map(|v| (0..4).rev().map(move |s| u8::from((v >> s) & 1 == 1)))
                .take(MAX_WINDOW_OFFSET + 64)
                .collect()
        })
        .collect();
    let positions = sample
        .first()
        .map(|t| {
            t.bytes()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_alphanumeric())
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default();
    Some((digits, positions))
}

/// The 64 bits starting at `offset` (left-aligned, zero-filled past the end) and how many of
/// them exist; `None` if any is absent or none exists.
fn window64(bits: &[u8], offset: usize) -> Option<(u64, usize)> {
    let window = bits.get(offset..)?;
    let avail = window.len().min(64);
    if avail == 0 {
        return None;
    }
    let mut v = 0u64;
    for &b in window.iter().take(64) {
        if b == ABSENT {
            return None;
        }
        v = (v << 1) | u64::from(b);
    }
    Some((v << (64 - avail), avail))
}

/// Time units a timestamp can be in.
#[derive(Clone, Copy)]
enum TimeUnit {
    Seconds,
    Millis,
}

fn timestamp_unit(values: &[Option<u128>], now: i64) -> Option<TimeUnit> {
    let present: Vec<u128> = values.iter().flatten().copied().collect();
    if present.len() < 10 || present.len() * 10 < values.len() * 9 {
        return None;
    }
    let lo = u128::try_from(now.saturating_sub(TEN_YEARS_SECS).max(0)).unwrap_or(0);
    let hi = u128::try_from(now.saturating_add(TEN_YEARS_SECS).max(0)).unwrap_or(0);
    for (unit, scale) in [(TimeUnit::Millis, 1000u128), (TimeUnit::Seconds, 1)] {
        let inside: Vec<u128> = present
            .iter()
            .copied()
            .filter(|&v| v >= lo * scale && v <= hi * scale)
            .collect();
        if inside.len() * 10 < present.len() * 9 {
            continue;
        }
        let (Some(&min), Some(&max)) = (inside.iter().min(), inside.iter().max()) else {
            continue;
        };
        if max == min || max - min > ONE_YEAR_SECS * scale {
            continue;
        }
        let steps = inside.len() - 1;
        let rising = inside.windows(2).filter(|w| w.first() <= w.get(1)).count();
        if rising * 10 >= steps * 9 {
            return Some(unit);
        }
    }
    None
}

/// The first field that holds a timestamp: a description and the characters it covers.
fn find_timestamp(fields: &[Field], now: i64) -> Option<(String, (usize, usize))> {
    fields.iter().find_map(|f| {
        timestamp_unit(&f.values, now).map(|unit| {
            let unit = match unit {
                TimeUnit::Seconds => "seconds",
                TimeUnit::Millis => "milliseconds",
            };
            (
                format!("{} is a Unix time in {unit} close to now", f.label),
                f.span,
            )
        })
    })
}

/// A field that counts, other than one overlapping the timestamp at `time_span`.
fn find_counter(fields: &[Field], now: i64, time_span: Option<(usize, usize)>) -> Option<String> {
    let candidates = fields.len().max(1) as f64;
    let mut found = fields.iter().filter_map(|f| {
        if time_span.is_some_and(|t| overlaps(t, f.span))
            || timestamp_unit(&f.values, now).is_some()
        {
            return None;
        }
        let present: Vec<u128> = f.values.iter().flatten().copied().collect();
        if present.len() < 10 || present.len() * 10 < f.values.len() * 9 {
            return None;
        }
        let steps = present.len() - 1;
        let diffs: Vec<u128> = present
            .windows(2)
            .filter_map(|w| match (w.first(), w.get(1)) {
                (Some(a), Some(b)) if b > a => Some(b - a),
                _ => None,
            })
            .collect();
        if diffs.len() * 10 < steps * 9 {
            return None;
        }
        if binomial_half_upper_tail(steps, diffs.len()) > 0.001 / candidates {
            return None;
        }
        let (min, max) = (present.iter().min()?, present.iter().max()?);
        let narrow = ((max - min) as f64) <= f.range / 4.0;
        let mut step_counts: HashMap<u128, usize> = HashMap::new();
        for &d in &diffs {
            *step_counts.entry(d).or_insert(0) += 1;
        }
        let (&mode, &mode_count) = step_counts.iter().max_by_key(|(_, &c)| c)?;
        let regular = mode_count * 2 >= steps;
        (narrow || regular).then(|| {
            let mut sorted = diffs.clone();
            sorted.sort_unstable();
            let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
            format!(
                "{} increases in {} of {steps} steps (median step {median}, most common step {mode})",
                f.label,
                diffs.len()
            )
        })
    });
    let first = found.next()?;
    let more = found.count();
    Some(if more > 0 {
        format!("{first}; {more} other fields or bit windows count too")
    } else {
        first
    })
}

fn constant_patterns(
    tokens: &[String],
    chars: &[CharInfo],
    bits: &[BitPosition],
    patterns: &mut Vec<Pattern>,
) {
    let first = tokens.first().map(String::as_bytes).unwrap_or(&[]);
    let prefix = tokens.iter().fold(first.len(), |len, t| {
        first
            .iter()
            .zip(t.as_bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count()
    });
    let suffix = tokens.iter().fold(first.len(), |len, t| {
        first
            .iter()
            .rev()
            .zip(t.as_bytes().iter().rev())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count()
    });
    let min_len = tokens.iter().map(String::len).min().unwrap_or(0);
    let max_len = tokens.iter().map(String::len).max().unwrap_or(0);
    let shown = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        if text.chars().count() > 24 {
            format!("{}…", text.chars().take(24).collect::<String>())
        } else {
            text.into_owned()
        }
    };
    if prefix > 0 {
        patterns.push(Pattern {
            kind: PatternKind::ConstantPrefix,
            predictable: false,
            detail: format!(
                "every token starts with the same {prefix} characters \"{}\" (no entropy)",
                shown(first.get(..prefix).unwrap_or(&[]))
            ),
        });
    }
    let suffix = if prefix >= min_len {
        0
    } else {
        suffix.min(min_len - prefix)
    };
    if suffix > 0 {
        patterns.push(Pattern {
            kind: PatternKind::ConstantSuffix,
            predictable: false,
            detail: format!(
                "every token ends with the same {suffix} characters \"{}\" (no entropy)",
                shown(first.get(first.len() - suffix..).unwrap_or(&[]))
            ),
        });
    }
    let fixed_len = min_len == max_len;
    let constant: Vec<usize> = chars
        .iter()
        .filter(|c| {
            let p = c.report.position;
            c.report.distinct == 1
                && p >= prefix
                && !(fixed_len && p >= max_len.saturating_sub(suffix))
        })
        .map(|c| c.report.position + 1)
        .collect();
    if !constant.is_empty() {
        patterns.push(Pattern {
            kind: PatternKind::ConstantPositions,
            predictable: false,
            detail: format!(
                "{} never {}: {}",
                plural(constant.len(), "character position"),
                if constant.len() == 1 {
                    "varies"
                } else {
                    "vary"
                },
                ranges(&constant)
            ),
        });
    }
    let constant_bits: Vec<usize> = bits
        .iter()
        .filter(|b| b.constant)
        .map(|b| b.index)
        .collect();
    if !constant_bits.is_empty() {
        patterns.push(Pattern {
            kind: PatternKind::ConstantBits,
            predictable: false,
            detail: format!(
                "{} of {} bit positions never {}: {}",
                constant_bits.len(),
                bits.len(),
                if constant_bits.len() == 1 {
                    "varies"
                } else {
                    "vary"
                },
                ranges(&constant_bits)
            ),
        });
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `1–4, 7, 9–10`, at most 8 ranges.
fn ranges(sorted: &[usize]) -> String {
    let mut out = String::new();
    let mut groups = 0;
    let mut iter = sorted.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        groups += 1;
        if groups > 8 {
            out.push_str(", …");
            break;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}–{end}");
        }
    }
    out
}

fn json_object(bytes: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

fn near_now(secs: i64, now: i64) -> bool {
    (secs - now).abs() <= TEN_YEARS_SECS
}

fn detect_data(tokens: &[String], now: i64) -> Option<DataFormat> {
    let url = lenient(&alphabet::URL_SAFE);
    let std_engine = lenient(&alphabet::STANDARD);
    let sample: Vec<&str> = tokens
        .iter()
        .take(MAX_PATTERN_TOKENS)
        .map(String::as_str)
        .collect();
    let n = sample.len();
    let majority = |count: usize| count * 10 >= n * 9;

    // JWT: header.payload.signature (or five parts for JWE) with a JSON header.
    let mut algs: Vec<String> = Vec::new();
    let jwt = sample
        .iter()
        .filter(|t| {
            let parts: Vec<&str> = t.split('.').collect();
            if parts.len() != 3 && parts.len() != 5 {
                return false;
            }
            let header = parts
                .first()
                .and_then(|h| url.decode(h).ok())
                .and_then(|h| json_object(&h));
            match header
                .as_ref()
                .and_then(|h| h.get("alg"))
                .and_then(|a| a.as_str())
            {
                Some(alg) => {
                    if !algs.iter().any(|a| a == alg) && algs.len() < 4 {
                        algs.push(alg.to_owned());
                    }
                    true
                }
                None => false,
            }
        })
        .count();
    if majority(jwt) {
        let alg = if algs.is_empty() {
            String::new()
        } else {
            format!(", alg {}", algs.join("/"))
        };
        return Some(DataFormat {
            kind: DataKind::Jwt,
            matching: jwt,
            detail: format!(
                "{jwt} of {n} tokens are JWTs (header.payload.signature, JSON header{alg}): signed data, not a random identifier; judge them by their signature, claims and expiry (WSTG-SESS-10)"
            ),
        });
    }

    // itsdangerous: payload.timestamp.signature (payload may start with '.' when compressed).
    let itsdangerous = sample
        .iter()
        .filter(|t| {
            let parts: Vec<&str> = t.trim_start_matches('.').split('.').collect();
            let [payload, ts, sig] = parts.as_slice() else {
                return false;
            };
            if payload.is_empty() || sig.len() < 16 {
                return false;
            }
            let Ok(bytes) = url.decode(ts) else {
                return false;
            };
            if bytes.is_empty() || bytes.len() > 8 {
                return false;
            }
            let secs = bytes
                .iter()
                .fold(0i64, |acc, &b| acc.wrapping_shl(8) | i64::from(b));
            near_now(secs, now) || near_now(secs + ITSDANGEROUS_OLD_EPOCH, now)
        })
        .count();
    if majority(itsdangerous) {
        return Some(DataFormat {
            kind: DataKind::Itsdangerous,
            matching: itsdangerous,
            detail: format!(
                "{itsdangerous} of {n} tokens look like itsdangerous/Flask payload.timestamp.signature: signed data with a creation time, not a random identifier"
            ),
        });
    }

    // express cookie-signature: s:value.signature
    let express = sample
        .iter()
        .filter(|t| {
            let rest = t
                .strip_prefix("s:")
                .or_else(|| t.strip_prefix("s%3A"))
                .or_else(|| t.strip_prefix("s%3a"));
            let Some((value, sig)) = rest.and_then(|r| r.rsplit_once('.')) else {
                return false;
            };
            !value.is_empty()
                && (27..=88).contains(&sig.len())
                && std_engine
                    .decode(sig.replace("%2F", "/").replace("%2B", "+"))
                    .is_ok()
        })
        .count();
    if majority(express) {
        return Some(DataFormat {
            kind: DataKind::ExpressSigned,
            matching: express,
            detail: format!(
                "{express} of {n} tokens are express signed cookies (s:value.signature): the signature is not an identifier; the value before it may be, so analyse those values on their own"
            ),
        });
    }

    // Rails: data--digest or data--iv--tag.
    let rails = sample
        .iter()
        .filter(|t| {
            let unescaped = t
                .replace("%3D", "=")
                .replace("%2F", "/")
                .replace("%2B", "+");
            let parts: Vec<&str> = unescaped.split("--").collect();
            if parts.len() != 2 && parts.len() != 3 {
                return false;
            }
            let (Some(data), Some(last)) = (parts.first(), parts.last()) else {
                return false;
            };
            data.len() >= 8
                && std_engine.decode(data).is_ok()
                && last.len() >= 16
                && (last.bytes().all(|b| b.is_ascii_hexdigit()) || std_engine.decode(last).is_ok())
        })
        .count();
    if majority(rails) {
        return Some(DataFormat {
            kind: DataKind::RailsSigned,
            matching: rails,
            detail: format!(
                "{rails} of {n} tokens look like Rails signed or encrypted cookies (data--digest): data protected by a key, not a random identifier"
            ),
        });
    }

    // base64 of JSON.
    let json = sample
        .iter()
        .filter(|t| {
            url.decode(t)
                .or_else(|_| std_engine.decode(t))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v.is_object() || v.is_array())
        })
        .count();
    if majority(json) {
        return Some(DataFormat {
            kind: DataKind::Base64Json,
            matching: json,
            detail: format!(
                "{json} of {n} tokens are base64 of JSON: data, not a random identifier (is it signed? does it carry the session's state?)"
            ),
        });
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Special functions

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 8] = [
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = 0.999_999_999_999_809_9;
    for (i, c) in COEFFICIENTS.iter().enumerate() {
        a += c / (x + i as f64 + 1.0);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The upper regularized incomplete gamma function Q(a, x) (NIST's `igamc`).
fn igamc(a: f64, x: f64) -> f64 {
    if a <= 0.0 || x.is_nan() || a.is_nan() {
        return 1.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    const EPS: f64 = 1e-16;
    const TINY: f64 = 1e-300;
    const MAX_ITER: usize = 100_000;
    let log_prefix = -x + a * x.ln() - ln_gamma(a);
    let q = if x < a + 1.0 {
        // Series for P(a, x).
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        1.0 - sum * log_prefix.exp()
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        log_prefix.exp() * h
    };
    q.clamp(0.0, 1.0)
}

/// The complementary error function.
fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return 1.0;
    }
    if x < 0.0 {
        2.0 - erfc(-x)
    } else {
        igamc(0.5, x * x)
    }
}

/// Standard normal CDF.
fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Upper tail of the chi-square distribution with `df` degrees of freedom.
fn chi2_sf(x: f64, df: f64) -> f64 {
    igamc(df / 2.0, x / 2.0)
}

/// P(Binomial(m, ½) ≥ k).
fn binomial_half_upper_tail(m: usize, k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m {
        return 0.0;
    }
    let mf = m as f64;
    let base = ln_gamma(mf + 1.0) - mf * std::f64::consts::LN_2;
    let mut sum = 0.0;
    for j in k..=m {
        let jf = j as f64;
        let term = (base - ln_gamma(jf + 1.0) - ln_gamma(mf - jf + 1.0)).exp();
        sum += term;
        if 2 * j > m && term < sum * 1e-17 {
            break;
        }
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SP 800-22's 100-bit example sequence (first bits of e).
    const EPSILON_100: &str = "1100100100001111110110101010001000100001011010001100001000110100110001001100011001100010100010111000";
    /// SP 800-22's 128-bit example for the longest-run test.
    const EPSILON_128: &str = "11001100000101010110110001001100111000000000001001001101010100010001001111010110100000001101011111001100111001101101100010110010";
    const NOW: i64 = 1_780_000_000;

    fn bits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| u8::from(b == b'1')).collect()
    }

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "got {actual}, expected {expected} ± {tolerance}"
        );
    }

    /// Deterministic test generator (SplitMix64): the statistical tests below are reproducible.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| (self.next() >> 56) as u8).collect()
        }
        fn bits(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| (self.next() >> 63) as u8).collect()
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn b64url(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn csprng_like(seed: u64, n: usize) -> Vec<String> {
        let mut rng = SplitMix(seed);
        (0..n).map(|_| b64url(&rng.bytes(32))).collect()
    }

    fn has(report: &EntropyReport, kind: PatternKind) -> bool {
        report.patterns.iter().any(|p| p.kind == kind)
    }

    // --- special functions -------------------------------------------------------------------

    #[test]
    fn erfc_and_igamc_match_reference_values() {
        close(erfc(0.0), 1.0, 1e-15);
        close(erfc(1.0), 0.157_299_207_050_285_13, 1e-14);
        close(erfc(2.0), 0.004_677_734_981_047_266, 1e-15);
        close(erfc(-1.0), 1.842_700_792_949_715, 1e-14);
        close(igamc(1.0, 3.0), (-3.0f64).exp(), 1e-14);
        close(chi2_sf(18.307, 10.0), 0.050_000_589, 1e-8);
        close(chi2_sf(3.841_458_820_694_124, 1.0), 0.05, 1e-10);
        close(igamc(50.0, 30.0), 0.999_481_108_537_452, 1e-12);
        close(ln_gamma(10.0), 362_880f64.ln(), 1e-12);
        close(binomial_half_upper_tail(10, 9), 11.0 / 1024.0, 1e-14);
        close(binomial_half_upper_tail(10, 0), 1.0, 0.0);
    }

    // --- NIST SP 800-22 examples ----------------------------------------------------------

    #[test]
    fn nist_frequency_examples() {
        close(nist_frequency(&bits("1011010101")), 0.527_089, 1e-6);
        close(nist_frequency(&bits(EPSILON_100)), 0.109_599, 1e-6);
    }

    #[test]
    fn nist_block_frequency_examples() {
        close(
            nist_block_frequency(&bits("0110011010"), 3).unwrap(),
            0.801_252,
            1e-6,
        );
        close(
            nist_block_frequency(&bits(EPSILON_100), 10).unwrap(),
            0.706_438,
            1e-6,
        );
        assert_eq!(nist_block_frequency(&bits("01"), 3), None);
    }

    #[test]
    fn nist_runs_examples() {
        close(nist_runs(&bits("1001101011")), 0.147_232, 1e-6);
        close(nist_runs(&bits(EPSILON_100)), 0.500_798, 1e-6);
        // Frequency prerequisite fails: p = 0.
        assert_eq!(nist_runs(&bits(&"1".repeat(100))), 0.0);
    }

    #[test]
    fn nist_longest_run_example() {
        close(
            nist_longest_run(&bits(EPSILON_128)).unwrap(),
            0.180_609,
            1e-5,
        );
        assert_eq!(nist_longest_run(&bits(EPSILON_100)), None);
    }

    #[test]
    fn nist_cusum_examples() {
        close(nist_cusum(&bits("1011010111"), false), 0.411_658_8, 1e-6);
        close(nist_cusum(&bits(EPSILON_100), false), 0.219_194, 1e-6);
        close(nist_cusum(&bits(EPSILON_100), true), 0.114_866, 1e-6);
    }

    // --- FIPS 140-2 -------------------------------------------------------------------------

    fn with_ones(ones: usize) -> Vec<u8> {
        // Alternate blocks so that only the monobit count is extreme.
        let mut v = vec![0u8; FIPS_BLOCK_BITS];
        for (i, b) in v.iter_mut().enumerate().take(ones) {
            *b = u8::from(i < ones);
        }
        v
    }

    #[test]
    fn fips_monobit_bounds_are_exclusive() {
        for (ones, pass) in [(9725, false), (9726, true), (10274, true), (10275, false)] {
            assert_eq!(
                fips_block(&with_ones(ones)).monobit_pass,
                pass,
                "{ones} ones"
            );
        }
    }

    #[test]
    fn fips_poker_rejects_too_regular_and_too_skewed() {
        // Nibbles 0,1,…,15 repeated: X ≈ 0.0128 < 2.16.
        let cyclic: Vec<u8> = (0..5000usize)
            .flat_map(|i| (0..4).rev().map(move |s| ((i % 16) >> s & 1) as u8))
            .collect();
        let block = fips_block(&cyclic);
        close(block.poker, 0.0128, 1e-9);
        assert!(!block.poker_pass);
        // One nibble value only: X = 75000.
        let constant = vec![1u8; FIPS_BLOCK_BITS];
        close(fips_block(&constant).poker, 75_000.0, 1e-6);
    }

    #[test]
    fn fips_runs_and_long_run() {
        let alternating: Vec<u8> = (0..FIPS_BLOCK_BITS).map(|i| (i % 2) as u8).collect();
        let block = fips_block(&alternating);
        assert_eq!(block.zero_runs[0], 10_000);
        assert!(!block.runs_pass);

        let mut rng = SplitMix(7);
        let random = rng.bits(FIPS_BLOCK_BITS);
        let block = fips_block(&random);
        assert!(block.pass(), "a good generator passes: {block:?}");

        let mut long = random.clone();
        for b in long.iter_mut().skip(1000).take(26) {
            *b = 1;
        }
        long[999] = 0;
        long[1026] = 0;
        let block = fips_block(&long);
        assert_eq!(block.longest_run, 26);
        assert!(!block.long_run_pass);
        long[1025] = 0;
        let block = fips_block(&long);
        assert!(block.longest_run < 26 && block.long_run_pass);
    }

    // --- per-bit tests ----------------------------------------------------------------------

    #[test]
    fn no_run_probability_matches_brute_force() {
        let mut cache = RunCache::default();
        for n in 1..=12usize {
            for l in 1..=n + 1 {
                let count = (0u32..1 << n)
                    .filter(|&v| {
                        let seq: Vec<u8> = (0..n).map(|i| ((v >> i) & 1) as u8).collect();
                        longest_run(&seq) < l
                    })
                    .count();
                let expected = count as f64 / f64::from(1u32 << n);
                close(cache.no_run(n, l), expected, 1e-12);
            }
        }
    }

    #[test]
    fn per_bit_tests_reject_structure() {
        let mut cache = RunCache::default();
        let alternating: Vec<u8> = (0..200).map(|i| (i % 2) as u8).collect();
        let t = bit_tests(&alternating, &mut cache);
        assert!(t.monobit > 0.5);
        assert!(t.runs.unwrap() < 1e-10);
        assert!(t.poker.unwrap() < 1e-10);
        assert!(
            t.long_run < 1e-10,
            "a longest run of 1 in 200 bits is too short"
        );

        let sticky: Vec<u8> = (0..200).map(|i| u8::from(i >= 100)).collect();
        let t = bit_tests(&sticky, &mut cache);
        assert!(t.runs.unwrap() < 1e-10 && t.long_run < 1e-20);

        // 130 ones in 200: z = (60 − 1)/√200 ≈ 4.17.
        let biased: Vec<u8> = (0..200).map(|i| u8::from(i % 20 < 13)).collect();
        close(monobit_p(&biased), 3.04e-5, 1e-6);

        let short: Vec<u8> = (0..30).map(|i| (i % 2) as u8).collect();
        assert!(bit_tests(&short, &mut cache).runs.unwrap() < 1e-4);
    }

    /// The per-bit tests must be calibrated: a random bit fails each at 1% about 1% of the time.
    #[test]
    fn per_bit_tests_are_calibrated_on_random_bits() {
        let mut rng = SplitMix(11);
        let mut cache = RunCache::default();
        for n in [50usize, 200, 1000] {
            let trials = 3000;
            let mut fails = [0usize; 5];
            for _ in 0..trials {
                let seq = rng.bits(n);
                let t = bit_tests(&seq, &mut cache);
                let tests = [
                    Some(t.monobit),
                    t.runs,
                    t.poker,
                    Some(t.long_run),
                    Some(t.score()),
                ];
                for (f, p) in fails.iter_mut().zip(tests) {
                    if p.is_some_and(|p| p < 0.01) {
                        *f += 1;
                    }
                }
            }
            let rate = |f: usize| f as f64 / trials as f64;
            for (name, &f) in ["monobit", "runs", "poker", "long run"].iter().zip(&fails) {
                assert!(
                    rate(f) <= 0.02,
                    "n={n} {name}: {} false failures at 1%",
                    rate(f)
                );
            }
            assert!(
                rate(fails[4]) <= 0.05,
                "n={n}: score fails {} at 1%",
                rate(fails[4])
            );
            let verdict_level = (0..trials)
                .filter(|_| bit_tests(&rng.bits(n), &mut cache).score() < VERDICT_SIGNIFICANCE)
                .count();
            assert!(
                verdict_level <= 2,
                "n={n}: {verdict_level} of {trials} below the verdict level"
            );
        }
    }

    #[test]
    fn character_level_flags_counters_and_constants() {
        let tokens: Vec<String> = (0..200).map(|i| format!("x{:03}", i % 1000)).collect();
        let chars = char_analysis(&tokens);
        assert_eq!(chars[0].report.distinct, 1);
        assert_eq!(chars[0].report.score, 0.0);
        let last = &chars[3].report;
        assert_eq!((last.distinct, last.bits), (10, 3));
        // Perfectly uniform but stepping by one each time.
        assert!(last.uniformity_p.unwrap() > 0.99);
        assert!(last.transition_p.unwrap() < 1e-10);

        let random: Vec<String> = csprng_like(5, 300);
        let chars = char_analysis(&random);
        let failing = chars.iter().filter(|c| c.report.score < 0.001).count();
        assert!(failing <= 1, "{failing} random positions fail at 0.1%");
        assert_eq!(
            chars[42].report.bits, 4,
            "the last char of 32 bytes holds 4 bits"
        );
    }

    // --- whole analysis ---------------------------------------------------------------------

    #[test]
    fn random_256_bit_tokens_pass() {
        for seed in 0..5 {
            let r = analyse_at(&csprng_like(seed, 200), NOW).unwrap();
            assert_eq!(r.encoding, Encoding::Base64Url);
            assert_eq!(r.bits_per_token, 256);
            assert_eq!(r.verdict, Verdict::Pass, "{}: {:?}", r.reason, r.patterns);
            assert!(r.effective_bits >= 220, "effective {}", r.effective_bits);
            assert!(r.verdict_bits >= 250, "verdict bits {}", r.verdict_bits);
            assert!(r.patterns.is_empty(), "{:?}", r.patterns);
            let fips = r.stream.fips.as_ref().unwrap();
            assert_eq!(fips.blocks, 2);
            assert!(r.stream.nist.frequency_p.unwrap() > 0.0);
            assert_eq!(r.bit_scores.len(), 256);
        }
    }

    #[test]
    fn too_few_tokens_warn_even_when_random() {
        let r = analyse_at(&csprng_like(1, 20), NOW).unwrap();
        assert_eq!(r.verdict, Verdict::Warn, "{}", r.reason);
        assert!(r.reason.contains("too few"));
    }

    #[test]
    fn counter_fails() {
        let tokens: Vec<String> = (1..=200).map(|i| format!("session{i}")).collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(has(&r, PatternKind::Counter), "{:?}", r.patterns);
        assert!(r.reason.contains("counter"), "{}", r.reason);
        assert!(has(&r, PatternKind::ConstantPrefix));

        // A counter inside decoded bytes: 8-byte big-endian counter, then 8 random bytes.
        let mut rng = SplitMix(9);
        let tokens: Vec<String> = (0..200u64)
            .map(|i| {
                let mut b = (1_000 + 3 * i).to_be_bytes().to_vec();
                b.extend(rng.bytes(8));
                hex(&b)
            })
            .collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert!(has(&r, PatternKind::Counter), "{:?}", r.patterns);
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn timestamps_fail() {
        let ms = NOW * 1000;
        let decimal: Vec<String> = (0..200).map(|i| (ms + i * 1377).to_string()).collect();
        let hexa: Vec<String> = (0..200).map(|i| format!("{:x}", ms + i * 977)).collect();
        let secs: Vec<String> = (0..200)
            .map(|i| {
                let mut b = u32::try_from(NOW + i / 3).unwrap().to_be_bytes().to_vec();
                b.extend(SplitMix(i as u64).bytes(12));
                b64url(&b)
            })
            .collect();
        for tokens in [decimal, hexa, secs] {
            let r = analyse_at(&tokens, NOW).unwrap();
            assert!(has(&r, PatternKind::Timestamp), "{:?}", r.patterns);
            assert!(!has(&r, PatternKind::Counter), "{:?}", r.patterns);
            assert_eq!(r.verdict, Verdict::Fail);
            assert!(r.reason.contains("timestamp"));
        }
    }

    #[test]
    fn time_ordered_uuids_are_timestamps() {
        // UUIDv7: 48-bit milliseconds, version, random; the digits are split by dashes.
        let mut rng = SplitMix(17);
        let tokens: Vec<String> = (0..200u64)
            .map(|i| {
                let ms = u64::try_from(NOW).unwrap() * 1000 + 3 * i;
                let h = format!("{ms:012x}7{}", &hex(&rng.bytes(10))[1..]);
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            })
            .collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert_eq!(r.encoding, Encoding::Characters);
        assert!(has(&r, PatternKind::Timestamp), "{:?}", r.patterns);
        assert!(!has(&r, PatternKind::Counter), "{:?}", r.patterns);
        assert!(!has(&r, PatternKind::Sorted), "{:?}", r.patterns);
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn constant_prefix_costs_its_bits() {
        let mut rng = SplitMix(21);
        let tokens: Vec<String> = (0..200)
            .map(|_| format!("deadbeefcafebabe{}", hex(&rng.bytes(4))))
            .collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert_eq!(r.encoding, Encoding::Hex);
        assert_eq!(r.bits_per_token, 96);
        assert!((30..=32).contains(&r.verdict_bits), "{}", r.verdict_bits);
        assert!(
            (26..=32).contains(&r.effective_bits),
            "{}",
            r.effective_bits
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(has(&r, PatternKind::ConstantPrefix) && has(&r, PatternKind::ConstantBits));
        assert!(!has(&r, PatternKind::Timestamp) && !has(&r, PatternKind::Counter));
    }

    #[test]
    fn alphanumeric_tokens_keep_calibrated_bits_with_many_samples() {
        // 62 symbols: 5 bits per position via rejection; no bias even with 5,000 tokens.
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = SplitMix(33);
        let tokens: Vec<String> = (0..5000)
            .map(|_| {
                let body: String = (0..26)
                    .map(|_| char::from(ALNUM[rng.below(62) as usize]))
                    .collect();
                format!("sess_{body}")
            })
            .collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert_eq!(r.encoding, Encoding::Characters);
        assert_eq!(r.bits_per_token, 130);
        assert!(r.verdict_bits >= 129, "{}", r.verdict_bits);
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.reason);
    }

    #[test]
    fn short_random_tokens_fail_for_bits() {
        let mut rng = SplitMix(4);
        let tokens: Vec<String> = (0..200).map(|_| hex(&rng.bytes(3))).collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.verdict_bits <= 24);
        assert!(has(&r, PatternKind::ShortTokens));
    }

    #[test]
    fn repeated_halves_are_caught_by_correlation() {
        let mut rng = SplitMix(8);
        let tokens: Vec<String> = (0..300)
            .map(|_| {
                let half = rng.bytes(16);
                hex(&[half.clone(), half].concat())
            })
            .collect();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert!(r.correlation_tested);
        assert!((120..=128).contains(&r.verdict_bits), "{}", r.verdict_bits);
        assert!(
            r.bit_positions
                .iter()
                .filter(|b| b.correlated_with.is_some())
                .count()
                >= 128
        );
    }

    #[test]
    fn duplicates_fail() {
        let mut tokens = csprng_like(2, 200);
        tokens[150] = tokens[10].clone();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert_eq!((r.distinct, r.duplicates), (199, 1));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.reason.contains("duplicate"));
    }

    #[test]
    fn data_formats_are_recognised() {
        let mut rng = SplitMix(12);
        let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
        let jwts: Vec<String> = (0..100)
            .map(|i| {
                let payload = b64url(format!(r#"{{"sub":"user{i}","iat":{NOW}}}"#).as_bytes());
                format!("{header}.{payload}.{}", b64url(&rng.bytes(32)))
            })
            .collect();
        let r = analyse_at(&jwts, NOW).unwrap();
        assert_eq!(r.data_format.as_ref().map(|d| d.kind), Some(DataKind::Jwt));
        assert!(r.data_format.unwrap().detail.contains("HS256"));
        assert_eq!(r.verdict, Verdict::Warn);

        let flask: Vec<String> = (0..100)
            .map(|i| {
                let payload = b64url(format!(r#"{{"user_id":{i}}}"#).as_bytes());
                let ts = b64url(&u32::try_from(NOW + i).unwrap().to_be_bytes());
                format!("{payload}.{ts}.{}", b64url(&rng.bytes(20)))
            })
            .collect();
        let r = analyse_at(&flask, NOW).unwrap();
        assert_eq!(r.data_format.map(|d| d.kind), Some(DataKind::Itsdangerous));

        let express: Vec<String> = (0..100)
            .map(|_| {
                let sig = base64::engine::general_purpose::STANDARD_NO_PAD.encode(rng.bytes(32));
                format!("s:{}.{sig}", b64url(&rng.bytes(24)))
            })
            .collect();
        let r = analyse_at(&express, NOW).unwrap();
        assert_eq!(r.data_format.map(|d| d.kind), Some(DataKind::ExpressSigned));

        let rails: Vec<String> = (0..100)
            .map(|i| {
                let data = base64::engine::general_purpose::STANDARD
                    .encode(format!(r#"{{"session_id":"{i}"}}"#));
                format!("{data}--{}", hex(&rng.bytes(20)))
            })
            .collect();
        let r = analyse_at(&rails, NOW).unwrap();
        assert_eq!(r.data_format.map(|d| d.kind), Some(DataKind::RailsSigned));

        let json: Vec<String> = (0..100)
            .map(|i| b64url(format!(r#"{{"user":{i},"n":"{}"}}"#, rng.next()).as_bytes()))
            .collect();
        let r = analyse_at(&json, NOW).unwrap();
        assert_eq!(r.data_format.map(|d| d.kind), Some(DataKind::Base64Json));
    }

    #[test]
    fn encodings_are_detected() {
        let mut rng = SplitMix(14);
        let upper: Vec<String> = (0..50)
            .map(|_| hex(&rng.bytes(16)).to_uppercase())
            .collect();
        assert_eq!(analyse_at(&upper, NOW).unwrap().encoding, Encoding::Hex);
        let std_b64: Vec<String> = (0..50)
            .map(|_| base64::engine::general_purpose::STANDARD.encode(rng.bytes(16)))
            .collect();
        let r = analyse_at(&std_b64, NOW).unwrap();
        assert_eq!((r.encoding, r.bits_per_token), (Encoding::Base64, 128));
        let digits: Vec<String> = (0..50).map(|_| format!("{:020}", rng.next())).collect();
        assert_eq!(
            analyse_at(&digits, NOW).unwrap().encoding,
            Encoding::Characters
        );
    }

    #[test]
    fn sorted_input_is_reported() {
        let mut tokens = csprng_like(3, 200);
        tokens.sort();
        let r = analyse_at(&tokens, NOW).unwrap();
        assert!(has(&r, PatternKind::Sorted));
        assert!(!has(&r, PatternKind::Counter), "{:?}", r.patterns);
    }

    #[test]
    fn invalid_input_is_rejected_with_a_reason() {
        let one = vec!["abc".to_owned()];
        let e = analyse(&one).unwrap_err();
        assert_eq!(e, EntropyError::TooFew { got: 1, needed: 2 });
        assert!(e.to_string().contains("at least 2"));
        let empty = vec!["abc".to_owned(), String::new()];
        assert_eq!(
            analyse(&empty).unwrap_err(),
            EntropyError::Empty { line: 2 }
        );
        let long = vec!["abc".to_owned(), "a".repeat(MAX_TOKEN_BYTES + 1)];
        assert!(analyse(&long)
            .unwrap_err()
            .to_string()
            .starts_with("line 2:"));
        let binary = vec!["abc".to_owned(), "ab\u{0}c".to_owned()];
        assert_eq!(
            analyse(&binary).unwrap_err(),
            EntropyError::NotPrintable {
                line: 2,
                column: 3,
                byte: 0
            }
        );
        let spaced = vec!["a b".to_owned(), "abc".to_owned()];
        assert!(matches!(
            analyse(&spaced),
            Err(EntropyError::NotPrintable { line: 1, .. })
        ));
        let many = vec!["ab".to_owned(); MAX_TOKENS + 1];
        assert!(matches!(analyse(&many), Err(EntropyError::TooMany { .. })));
        for e in [e, EntropyError::Empty { line: 3 }] {
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let cases: Vec<Vec<String>> = vec![
            vec!["a".into(), "a".into()],
            vec!["a".into(), "bb".into(), "ccc".into()],
            vec!["=".into(), "==".into()],
            vec!["....".into(), "-_-_".into(), "~".into()],
            vec!["x".repeat(MAX_TOKEN_BYTES), "y".repeat(MAX_TOKEN_BYTES)],
            (0..300).map(|i| "Z".repeat(1 + i % 7)).collect(),
            (0..50).map(|i| format!("{}", 10u128.pow(30) + i)).collect(),
        ];
        for tokens in cases {
            let r = analyse_at(&tokens, NOW).unwrap();
            assert!(r.bit_scores.iter().all(|s| (0.0..=1.0).contains(s)));
            serde_json::to_string(&r).unwrap();
        }
    }
}
