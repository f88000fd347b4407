//! Per-call sentiment trend: an exponential moving average of turn scores plus
//! the few statistics a supervisor view or an escalation rule needs.

/// Weight of the newest turn when none (or an invalid one) is given: a third of
/// the smoothed value comes from the latest turn, so one angry sentence moves
/// the trend clearly but a single outlier does not define the whole call.
pub const DEFAULT_ALPHA: f32 = 0.3;
/// [`SentimentTrend::falling`] rule (a): this many consecutive turns, each
/// strictly lower than the one before...
pub const FALLING_RUN: usize = 3;
/// ...spanning at least this much of the -1..=1 scale, so jitter such as
/// 0.31 → 0.30 → 0.29 is not a decline.
pub const FALLING_MIN_DROP: f32 = 0.2;
/// [`SentimentTrend::falling`] rule (b): the smoothed value is below this (the
/// customer is clearly unhappy) and did not improve on the last turn.
pub const FALLING_LEVEL: f32 = -0.25;

/// Smoothed sentiment of one call, fed one score per customer turn.
///
/// Non-finite scores are ignored and others are clamped to `-1..=1`, so a
/// misbehaving analyzer can never poison the trend. Accessors on an empty
/// trend return 0.0 (neutral) rather than an `Option`, because callers use
/// them directly in thresholds and displays.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentTrend {
    alpha: f32,
    value: f32,
    previous_value: f32,
    count: usize,
    sum: f64,
    min: f32,
    /// Last [`FALLING_RUN`] raw scores, oldest first.
    recent: [f32; FALLING_RUN],
}

impl SentimentTrend {
    /// `alpha` in `(0, 1]` is the weight of the newest turn (1 = no
    /// smoothing). Out-of-range values are clamped; NaN or ≤ 0 falls back to
    /// [`DEFAULT_ALPHA`].
    pub fn new(alpha: f32) -> SentimentTrend {
        let alpha = if alpha.is_finite() && alpha > 0.0 {
            alpha.min(1.0)
        } else {
            DEFAULT_ALPHA
        };
        SentimentTrend {
            alpha,
            value: 0.0,
            previous_value: 0.0,
            count: 0,
            sum: 0.0,
            min: 0.0,
            recent: [0.0; FALLING_RUN],
        }
    }

    /// Adds one turn's score and returns the new smoothed value. The first turn
    /// initialises the average to itself (no pull towards 0 at call start).
    pub fn push(&mut self, score: f32) -> f32 {
        if !score.is_finite() {
            return self.value;
        }
        let score = score.clamp(-1.0, 1.0);
        self.previous_value = self.value;
        if self.count == 0 {
            self.value = score;
            self.min = score;
        } else {
            self.value = self.alpha * score + (1.0 - self.alpha) * self.value;
            self.min = self.min.min(score);
        }
        self.count += 1;
        self.sum += f64::from(score);
        self.recent.rotate_left(1);
        self.recent[FALLING_RUN - 1] = score;
        self.value
    }

    /// Current smoothed value (0.0 before the first turn).
    pub fn value(&self) -> f32 {
        self.value
    }

    /// Unsmoothed mean of all turns (0.0 before the first turn).
    pub fn mean(&self) -> f32 {
        if self.count == 0 {
            0.0
        } else {
            (self.sum / self.count as f64) as f32
        }
    }

    /// Lowest single-turn score (0.0 before the first turn).
    pub fn min(&self) -> f32 {
        self.min
    }

    /// Number of turns pushed.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Most recent raw score, if any.
    pub fn last(&self) -> Option<f32> {
        (self.count > 0).then(|| self.recent[FALLING_RUN - 1])
    }

    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// Is the customer's mood going down? True when either
    /// (a) the last [`FALLING_RUN`] turns were each strictly lower than the one
    ///     before, dropping by at least [`FALLING_MIN_DROP`] in total (a
    ///     steady slide, even from positive territory), or
    /// (b) after at least two turns the smoothed value is below
    ///     [`FALLING_LEVEL`] and the last turn did not improve it (unhappy
    ///     and not recovering).
    pub fn falling(&self) -> bool {
        let slide = self.count >= FALLING_RUN
            && self.recent.windows(2).all(|w| w[1] < w[0])
            && self.recent[0] - self.recent[FALLING_RUN - 1] >= FALLING_MIN_DROP;
        let sunk =
            self.count >= 2 && self.value < FALLING_LEVEL && self.value <= self.previous_value;
        slide || sunk
    }
}

impl Default for SentimentTrend {
    fn default() -> Self {
        SentimentTrend::new(DEFAULT_ALPHA)
    }
}
