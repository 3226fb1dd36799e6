//! Pattern detection: duplicates, counters, timestamps, constant parts, short tokens, data formats, sorted order.

use super::*;

/// A numeric field seen across tokens: its value in each token (if the token has it).
pub(super) struct Field {
    pub(super) label: String,
    pub(super) values: Vec<Option<u128>>,
    /// Size of the field's value range (10^digits, 16^digits, 2^bits).
    pub(super) range: f64,
    /// Character positions it covers (start, end exclusive) in the first token that has it.
    pub(super) span: (usize, usize),
}

pub(super) fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The tokens pattern detection looks at: the first [`MAX_PATTERN_TOKENS`].
fn pattern_sample(tokens: &[String]) -> Vec<&str> {
    tokens
        .iter()
        .take(MAX_PATTERN_TOKENS)
        .map(String::as_str)
        .collect()
}

pub(super) fn numeric_fields(tokens: &[String], conversion: &Conversion) -> Vec<Field> {
    let sample = pattern_sample(tokens);
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
pub(super) fn window_fields(
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
pub(super) fn delimited_hex(sample: &[&str]) -> Option<(Vec<Vec<u8>>, Vec<usize>)> {
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
pub(super) fn window64(bits: &[u8], offset: usize) -> Option<(u64, usize)> {
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
pub(super) enum TimeUnit {
    Seconds,
    Millis,
}

pub(super) fn timestamp_unit(values: &[Option<u128>], now: i64) -> Option<TimeUnit> {
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
pub(super) fn find_timestamp(fields: &[Field], now: i64) -> Option<(String, (usize, usize))> {
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
pub(super) fn find_counter(
    fields: &[Field],
    now: i64,
    time_span: Option<(usize, usize)>,
) -> Option<String> {
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

pub(super) fn constant_patterns(
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

pub(super) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `1–4, 7, 9–10`, at most 8 ranges.
pub(super) fn ranges(sorted: &[usize]) -> String {
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

pub(super) fn json_object(bytes: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

pub(super) fn near_now(secs: i64, now: i64) -> bool {
    (secs - now).abs() <= TEN_YEARS_SECS
}

pub(super) fn detect_data(tokens: &[String], now: i64) -> Option<DataFormat> {
    let decoders = Decoders {
        url: lenient(&alphabet::URL_SAFE),
        std: lenient(&alphabet::STANDARD),
        now,
    };
    let sample = pattern_sample(tokens);
    let n = sample.len();
    // The most specific formats first: a JWT is also dot-separated base64.
    let kinds = [
        DataKind::Jwt,
        DataKind::Itsdangerous,
        DataKind::ExpressSigned,
        DataKind::RailsSigned,
        DataKind::Base64Json,
    ];
    kinds.into_iter().find_map(|kind| {
        let matching = sample.iter().filter(|t| decoders.is(kind, t)).count();
        (matching * 10 >= n * 9).then(|| DataFormat {
            kind,
            matching,
            detail: decoders.describe(kind, &sample, matching),
        })
    })
}

/// The decoders format detection needs, and the time timestamps are judged against.
struct Decoders {
    url: GeneralPurpose,
    std: GeneralPurpose,
    now: i64,
}

impl Decoders {
    /// Whether `token` has the shape of `kind`.
    fn is(&self, kind: DataKind, token: &str) -> bool {
        match kind {
            DataKind::Jwt => self.jwt_alg(token).is_some(),
            DataKind::Itsdangerous => self.is_itsdangerous(token),
            DataKind::ExpressSigned => self.is_express_signed(token),
            DataKind::RailsSigned => self.is_rails_signed(token),
            DataKind::Base64Json => self
                .url
                .decode(token)
                .or_else(|_| self.std.decode(token))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v.is_object() || v.is_array()),
        }
    }

    /// JWT: header.payload.signature (or five parts for JWE) with a JSON header naming an `alg`.
    fn jwt_alg(&self, token: &str) -> Option<String> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 && parts.len() != 5 {
            return None;
        }
        let header = parts
            .first()
            .and_then(|h| self.url.decode(h).ok())
            .and_then(|h| json_object(&h))?;
        header.get("alg")?.as_str().map(str::to_owned)
    }

    /// itsdangerous: payload.timestamp.signature (payload may start with '.' when compressed).
    fn is_itsdangerous(&self, token: &str) -> bool {
        let parts: Vec<&str> = token.trim_start_matches('.').split('.').collect();
        let [payload, ts, sig] = parts.as_slice() else {
            return false;
        };
        if payload.is_empty() || sig.len() < 16 {
            return false;
        }
        let Ok(bytes) = self.url.decode(ts) else {
            return false;
        };
        if bytes.is_empty() || bytes.len() > 8 {
            return false;
        }
        let secs = bytes
            .iter()
            .fold(0i64, |acc, &b| acc.wrapping_shl(8) | i64::from(b));
        near_now(secs, self.now) || near_now(secs + ITSDANGEROUS_OLD_EPOCH, self.now)
    }

    /// express cookie-signature: s:value.signature.
    fn is_express_signed(&self, token: &str) -> bool {
        let rest = token
            .strip_prefix("s:")
            .or_else(|| token.strip_prefix("s%3A"))
            .or_else(|| token.strip_prefix("s%3a"));
        let Some((value, sig)) = rest.and_then(|r| r.rsplit_once('.')) else {
            return false;
        };
        !value.is_empty()
            && (27..=88).contains(&sig.len())
            && self
                .std
                .decode(sig.replace("%2F", "/").replace("%2B", "+"))
                .is_ok()
    }

    /// Rails: data--digest or data--iv--tag.
    fn is_rails_signed(&self, token: &str) -> bool {
        let unescaped = token
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
            && self.std.decode(data).is_ok()
            && last.len() >= 16
            && (last.bytes().all(|b| b.is_ascii_hexdigit()) || self.std.decode(last).is_ok())
    }

    /// The one line a report shows about `matching` of `sample` being `kind`.
    fn describe(&self, kind: DataKind, sample: &[&str], matching: usize) -> String {
        let n = sample.len();
        match kind {
            DataKind::Jwt => {
                let mut algs: Vec<String> = Vec::new();
                for alg in sample.iter().filter_map(|t| self.jwt_alg(t)) {
                    if !algs.contains(&alg) && algs.len() < 4 {
                        algs.push(alg);
                    }
                }
                let alg = if algs.is_empty() {
                    String::new()
                } else {
                    format!(", alg {}", algs.join("/"))
                };
                format!(
                    "{matching} of {n} tokens are JWTs (header.payload.signature, JSON header{alg}): signed data, not a random identifier; judge them by their signature, claims and expiry (WSTG-SESS-10)"
                )
            }
            DataKind::Itsdangerous => format!(
                "{matching} of {n} tokens look like itsdangerous/Flask payload.timestamp.signature: signed data with a creation time, not a random identifier"
            ),
            DataKind::ExpressSigned => format!(
                "{matching} of {n} tokens are express signed cookies (s:value.signature): the signature is not an identifier; the value before it may be, so analyse those values on their own"
            ),
            DataKind::RailsSigned => format!(
                "{matching} of {n} tokens look like Rails signed or encrypted cookies (data--digest): data protected by a key, not a random identifier"
            ),
            DataKind::Base64Json => format!(
                "{matching} of {n} tokens are base64 of JSON: data, not a random identifier (is it signed? does it carry the session's state?)"
            ),
        }
    }
}
