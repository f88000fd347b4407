//! Signal levels of 16-bit audio.

/// Level reported for digital silence (and empty input) instead of -inf, so the
/// value stays finite for logging, JSON and arithmetic.
pub const MIN_DBFS: f32 = -120.0;

/// RMS level in dB relative to full scale: a full-scale square wave is 0 dBFS,
/// a full-scale sine about -3 dBFS.
pub fn rms_dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return MIN_DBFS;
    }
    // i64 accumulation: 32768² × millions of samples overflows i32/u32 and f32
    // loses precision on long buffers.
    let sum_sq: i64 = samples.iter().map(|&s| i64::from(s) * i64::from(s)).sum();
    let mean_sq = sum_sq as f64 / samples.len() as f64;
    if mean_sq <= 0.0 {
        return MIN_DBFS;
    }
    let db = 10.0 * (mean_sq / (32768.0 * 32768.0)).log10();
    (db as f32).max(MIN_DBFS)
}

/// Largest absolute sample value (0..=32768).
pub fn peak(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// Peak level in dBFS.
pub fn peak_dbfs(samples: &[i16]) -> f32 {
    let p = peak(samples);
    if p == 0 {
        return MIN_DBFS;
    }
    (20.0 * (f32::from(p) / 32768.0).log10()).max(MIN_DBFS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_levels() {
        assert_eq!(rms_dbfs(&[]), MIN_DBFS);
        assert_eq!(rms_dbfs(&[0; 320]), MIN_DBFS);
        let square: Vec<i16> = (0..320)
            .map(|i| if i % 2 == 0 { -32768 } else { 32767 })
            .collect();
        assert!(rms_dbfs(&square).abs() < 0.01);
        let sine: Vec<i16> = (0..16_000)
            .map(|i| (32767.0 * (i as f32 * 0.1).sin()) as i16)
            .collect();
        assert!((rms_dbfs(&sine) + 3.01).abs() < 0.05, "{}", rms_dbfs(&sine));
        let quiet = [33i16, -33, 33, -33]; // ~ -60 dBFS
        assert!((rms_dbfs(&quiet) + 59.9).abs() < 0.2);
        assert_eq!(peak(&[1, -32768, 5]), 32768);
        assert_eq!(peak(&[]), 0);
        assert!((peak_dbfs(&[16384]) + 6.02).abs() < 0.01);
    }
}
