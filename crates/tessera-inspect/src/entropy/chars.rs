//! Character-level analysis (Burp): the characters seen at each position, their uniform use and their transitions.

use super::*;

pub(super) struct CharInfo {
    pub(super) report: CharPosition,
    /// Sorted characters seen at this position.
    pub(super) alphabet: Vec<u8>,
}

pub(super) fn char_analysis(tokens: &[String]) -> Vec<CharInfo> {
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

pub(super) fn floor_log2(k: usize) -> u32 {
    if k < 2 {
        0
    } else {
        usize::BITS - 1 - k.leading_zeros()
    }
}

/// p-value of a chi-square test that `observed` cell counts are uniform.
pub(super) fn chi_square_uniform(observed: &[f64]) -> f64 {
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
