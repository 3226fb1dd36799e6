//! Per-bit tests: monobit, runs, poker, long run, and the pairwise correlation of bit positions.

use super::*;

pub(super) struct BitAnalysis {
    pub(super) positions: Vec<BitPosition>,
    pub(super) correlation_tested: bool,
}

/// The results of the per-bit tests on one sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct BitTests {
    pub(super) monobit: f64,
    pub(super) runs: Option<f64>,
    pub(super) poker: Option<f64>,
    pub(super) longest_run: usize,
    pub(super) long_run: f64,
}

impl BitTests {
    pub(super) fn score(&self) -> f64 {
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

pub(super) fn bit_level(conversion: &Conversion, n: usize) -> BitAnalysis {
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
pub(super) fn bit_tests(seq: &[u8], cache: &mut RunCache) -> BitTests {
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
pub(super) fn monobit_p(seq: &[u8]) -> f64 {
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
pub(super) fn runs_distribution_p(seq: &[u8]) -> Option<f64> {
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
pub(super) fn runs_total_p(seq: &[u8]) -> Option<f64> {
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
pub(super) fn poker_p(seq: &[u8]) -> Option<f64> {
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

pub(super) fn longest_run(seq: &[u8]) -> usize {
    seq.chunk_by(|a, b| a == b)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// Caches `P(no run ≥ L in n fair bits)`.
#[derive(Default)]
pub(super) struct RunCache {
    pub(super) no_run: HashMap<(usize, usize), f64>,
}

impl RunCache {
    /// Probability that `n` fair bits have no run of `l` or more equal values.
    pub(super) fn no_run(&mut self, n: usize, l: usize) -> f64 {
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
pub(super) fn long_run_p(n: usize, m: usize, cache: &mut RunCache) -> f64 {
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
pub(super) fn correlate(columns: &[Column], positions: &mut [BitPosition]) {
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
