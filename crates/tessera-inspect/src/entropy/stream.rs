//! Stream tests on the concatenated bits: FIPS 140-2 power-up tests and NIST SP 800-22.

use super::*;

pub(super) fn stream_tests(stream: &[u8], truncated: bool) -> StreamTests {
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
pub(super) fn fips_block(bits: &[u8]) -> FipsBlock {
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
pub(super) fn nist_frequency(bits: &[u8]) -> f64 {
    let n = bits.len();
    if n == 0 {
        return 1.0;
    }
    let ones = bits.iter().filter(|&&b| b == 1).count();
    let s = (2 * ones).abs_diff(n) as f64;
    erfc(s / (n as f64).sqrt() / std::f64::consts::SQRT_2)
}

/// NIST SP 800-22 block frequency test with block size `m`.
pub(super) fn nist_block_frequency(bits: &[u8], m: usize) -> Option<f64> {
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
pub(super) fn nist_runs(bits: &[u8]) -> f64 {
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
pub(super) fn nist_longest_run(bits: &[u8]) -> Option<f64> {
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
pub(super) fn nist_cusum(bits: &[u8], reverse: bool) -> f64 {
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
