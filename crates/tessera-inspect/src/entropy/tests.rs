//! Calibration and behaviour tests of the entropy analysis.

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

#[test]
fn pattern_names_spell_their_json_ids() {
    let kinds = [
        PatternKind::Duplicates,
        PatternKind::Counter,
        PatternKind::Timestamp,
        PatternKind::ConstantPrefix,
        PatternKind::ConstantSuffix,
        PatternKind::ConstantPositions,
        PatternKind::ConstantBits,
        PatternKind::ShortTokens,
        PatternKind::Data,
        PatternKind::Sorted,
    ];
    for kind in kinds {
        let id = serde_json::to_value(kind).unwrap();
        assert_eq!(Some(kind.name().replace(' ', "_").as_str()), id.as_str());
    }
}
