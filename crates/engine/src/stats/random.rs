//! The seeded random source of the bootstrap and the permutation test.
//!
//! ChaCha8 (`rand_chacha`) gives the same stream for the same seed on every platform and in every
//! version (the crate promises value stability). Turning its words into indices is done here, not
//! with `rand`'s range sampling, whose algorithm may change between versions: an index is
//! Lemire's multiply-and-shift of a 32-bit word, with his rejection step, so it is exactly
//! uniform and fixed forever; so are the unit uniform and the binomial draw built on them. Left
//! out: other distributions and shuffles (the permutation test does its own partial one).

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use super::distribution::ln_choose;

/// A reproducible stream of uniform indices.
pub(crate) struct SeededRandom {
    generator: ChaCha8Rng,
}

impl SeededRandom {
    /// The stream for `seed`. The 256-bit ChaCha key is expanded from the seed with SplitMix64
    /// here rather than with `SeedableRng::seed_from_u64`, whose expansion a future `rand_core`
    /// may change: the key, and so every index, depends only on this file.
    pub(crate) fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&split_mix(&mut state).to_le_bytes());
        }
        Self {
            generator: ChaCha8Rng::from_seed(key),
        }
    }

    /// A uniform index in `0..bound` (`bound` ≥ 1 and below 2³²).
    pub(crate) fn index(&mut self, bound: u32) -> u32 {
        debug_assert!(bound > 0);
        let mut product = u64::from(self.generator.next_u32()) * u64::from(bound);
        let mut low = product as u32;
        if low < bound {
            // Lemire (2019): reject the few low words that would make some indices likelier.
            let threshold = bound.wrapping_neg() % bound;
            while low < threshold {
                product = u64::from(self.generator.next_u32()) * u64::from(bound);
                low = product as u32;
            }
        }
        (product >> 32) as u32
    }

    /// 64 random bits (the paired permutation test uses one per sign).
    pub(crate) fn bits(&mut self) -> u64 {
        self.generator.next_u64()
    }

    /// A uniform number in [0, 1) with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.generator.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A Binomial(`trials`, `probability`) draw, exact up to floating-point rounding: inversion
    /// with the support visited in the order mode, mode + 1, mode − 1, mode + 2, … (any order
    /// gives the right distribution; this one needs about 1.6 standard deviations of steps, a
    /// hundred for 30,000 trials at ½, instead of a walk from 0 through underflowed terms).
    pub(crate) fn binomial(&mut self, trials: u64, probability: f64) -> u64 {
        if trials == 0 || probability <= 0.0 {
            return 0;
        }
        if probability >= 1.0 {
            return trials;
        }
        let n = trials as f64;
        let mode = ((n + 1.0) * probability).floor().min(n) as u64;
        let at_mode = (ln_choose(trials, mode)
            + mode as f64 * probability.ln()
            + (trials - mode) as f64 * (-probability).ln_1p())
        .exp();
        let odds = probability / (1.0 - probability);
        loop {
            let mut left = self.unit() - at_mode;
            if left < 0.0 {
                return mode;
            }
            let (mut up, mut up_probability) = (mode, at_mode);
            let (mut down, mut down_probability) = (mode, at_mode);
            // Stop when both directions have run out of probability mass: the uniform fell in
            // the rounding error of the total (about 1e-13), so draw again.
            while (up < trials && up_probability > 1e-300) || (down > 0 && down_probability > 1e-300) {
                if up < trials {
                    up_probability *= (trials - up) as f64 / (up + 1) as f64 * odds;
                    up += 1;
                    left -= up_probability;
                    if left < 0.0 {
                        return up;
                    }
                }
                if down > 0 {
                    down_probability *= down as f64 / (trials - down + 1) as f64 / odds;
                    down -= 1;
                    left -= down_probability;
                    if left < 0.0 {
                        return down;
                    }
                }
            }
        }
    }

    /// Fills `indices` with uniform indices in `0..bound` (the plain bootstrap the tests compare
    /// with).
    #[cfg(test)]
    pub(crate) fn fill_indices(&mut self, indices: &mut [u32], bound: u32) {
        for index in indices {
            *index = self.index(bound);
        }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014), the usual way to stretch a 64-bit seed.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut mixed = *state;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_indices_forever() {
        let mut random = SeededRandom::new(42);
        let drawn: Vec<u32> = (0..8).map(|_| random.index(1000)).collect();
        // Pinned once: a change here means every stored report's intervals would move.
        assert_eq!(drawn, PINNED_INDICES);
        let mut again = SeededRandom::new(42);
        assert_eq!(drawn, (0..8).map(|_| again.index(1000)).collect::<Vec<_>>());
    }

    #[test]
    fn indices_are_uniform() {
        let mut random = SeededRandom::new(7);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[random.index(10) as usize] += 1;
        }
        // Each count is Binomial(100,000, 0.1): 10,000 ± 95 (sd); 5 sd either way.
        assert!(
            counts.iter().all(|&count| (9_525..=10_475).contains(&count)),
            "{counts:?}"
        );
    }

    #[test]
    fn binomial_draws_have_the_binomial_mean_and_variance() {
        let mut random = SeededRandom::new(3);
        for (trials, probability) in [(30_000u64, 0.5), (30_000, 0.02), (12, 0.3), (5, 0.9)] {
            let draws: Vec<f64> = (0..20_000)
                .map(|_| random.binomial(trials, probability) as f64)
                .collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let variance = draws.iter().map(|draw| (draw - mean).powi(2)).sum::<f64>() / (draws.len() - 1) as f64;
            let expected_variance = trials as f64 * probability * (1.0 - probability);
            // The mean's standard error is √(var / 20,000); allow 5 of them, and 5% on the variance.
            let tolerance = 5.0 * (expected_variance / 20_000.0).sqrt();
            assert!(
                (mean - trials as f64 * probability).abs() < tolerance,
                "{trials} {probability}: mean {mean}"
            );
            assert!(
                (variance / expected_variance - 1.0).abs() < 0.05,
                "{trials} {probability}: var {variance}"
            );
            assert!(draws.iter().all(|&draw| draw <= trials as f64));
        }
        assert_eq!(random.binomial(0, 0.5), 0);
        assert_eq!(random.binomial(7, 1.0), 7);
    }

    const PINNED_INDICES: [u32; 8] = [530, 191, 703, 91, 604, 968, 989, 723];
}
