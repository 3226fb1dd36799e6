//! Conversion of tokens to bits: hex, base64url or base64 decoding, or Burp-style per-character bit mapping.

use super::*;

/// Bit columns, one per bit position: bit `t` of `values` is token `t`'s bit, valid where set in
/// `present`.
pub(super) struct Column {
    pub(super) values: Vec<u64>,
    pub(super) present: Vec<u64>,
    pub(super) samples: usize,
    pub(super) ones: usize,
    pub(super) char_position: usize,
}

impl Column {
    pub(super) fn new(tokens: usize, char_position: usize) -> Self {
        let words = tokens.div_ceil(64);
        Self {
            values: vec![0; words],
            present: vec![0; words],
            samples: 0,
            ones: 0,
            char_position,
        }
    }

    pub(super) fn set(&mut self, token: usize, bit: bool) {
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
    pub(super) fn sequence(&self, out: &mut Vec<u8>) {
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

pub(super) const ABSENT: u8 = 2;

pub(super) struct Conversion {
    pub(super) encoding: Encoding,
    pub(super) columns: Vec<Column>,
    pub(super) bits_per_token: usize,
    pub(super) bits_truncated: bool,
    pub(super) stream: Vec<u8>,
    pub(super) stream_truncated: bool,
    /// The first tokens' bits (0/1/ABSENT), for pattern detection.
    pub(super) token_bits: Vec<Vec<u8>>,
}

/// Per-position bit mapping for [`Encoding::Characters`].
pub(super) struct CharMap {
    pub(super) offset: usize,
    pub(super) bits: u32,
    /// Index of each byte in the position's alphabet.
    pub(super) index: [u8; 128],
}

pub(super) enum Plan {
    Hex,
    Decoded(Vec<Vec<u8>>),
    Characters(Vec<CharMap>),
}

pub(super) fn lenient(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

pub(super) fn detect_encoding(tokens: &[String], chars: &[CharInfo]) -> (Encoding, Plan) {
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
pub(super) fn token_bits(plan: &Plan, t: usize, token: &str, out: &mut Vec<u8>) {
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

pub(super) fn char_position_of(encoding: Encoding, plan: &Plan, bit: usize) -> usize {
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

pub(super) fn convert(tokens: &[String], chars: &[CharInfo]) -> Conversion {
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
