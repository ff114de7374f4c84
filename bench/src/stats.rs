//! Percentiles over samples, in milliseconds.

use std::time::Duration;

/// Samples of one measure.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q`-quantile (0..=1), nearest rank; 0 without samples.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// The `q`-quantile of each of `blocks` consecutive stretches of the samples (in the
    /// order taken), then the median of those: a burst of load from other processes on the
    /// machine spoils one stretch, not the figure.
    pub fn blocked_quantile(&self, q: f64, blocks: usize) -> f64 {
        let size = self.0.len().div_ceil(blocks.max(1)).max(1);
        let mut per_block = Samples::default();
        for block in self.0.chunks(size) {
            per_block.0.push(Samples(block.to_vec()).quantile(q));
        }
        per_block.median()
    }

    /// The median.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> f64 {
        self.quantile(0.99)
    }
}
