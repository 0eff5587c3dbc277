//! What the bindings accept from their users, decided once: durations given as floating-point
//! seconds (Python) or milliseconds (JavaScript) or as integer microseconds (C), and 64-bit
//! integers given as floating-point numbers (JavaScript `number`s).
//!
//! A duration is refused when it is NaN or negative, and cut down to [`MAX_DURATION`] when it
//! is longer (an infinite one included: "no limit" in practice). Every duration that reaches
//! the driver is then small enough that a deadline (`Instant::now() + d`), a timer and the
//! driver's own arithmetic on it cannot overflow, whatever the user passed.

use std::time::Duration;

use crate::protocol::error::{Error, Result};

/// The longest duration synodos takes from a user: 2^32 seconds (about 136 years). A longer
/// one (a "no timeout" value such as `1e300` or infinity) is cut to this.
pub const MAX_DURATION: Duration = Duration::from_secs(1 << 32);

/// The largest integer a binary64 float holds exactly (JavaScript's
/// `Number.MAX_SAFE_INTEGER`, 2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `d`, or [`MAX_DURATION`] if it is longer.
pub fn saturate(d: Duration) -> Duration {
    d.min(MAX_DURATION)
}

/// A duration of `micros` microseconds, cut to [`MAX_DURATION`] (for integer inputs, which
/// cannot be negative or NaN).
pub fn duration_from_micros(micros: u64) -> Duration {
    saturate(Duration::from_micros(micros))
}

fn from_secs(what: &str, secs: f64, value: f64, unit: &str) -> Result<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return Err(Error::InvalidArgument(format!("{what} must be a non-negative number of {unit}, not {value}")));
    }
    if secs >= MAX_DURATION.as_secs_f64() {
        return Ok(MAX_DURATION);
    }
    // Finite and in 0 ..= MAX_DURATION here (-0.0 included), so this cannot fail; the error
    // arm is kept rather than a panic.
    Duration::try_from_secs_f64(secs.abs()).map_err(|e| Error::InvalidArgument(format!("{what} = {value} {unit}: {e}")))
}

/// A duration given as floating-point seconds (Python's convention). `what` names the
/// argument in the error. NaN and negative values are refused (`InvalidArgument`); values
/// longer than [`MAX_DURATION`], infinity included, become [`MAX_DURATION`].
pub fn duration_from_secs_f64(what: &str, secs: f64) -> Result<Duration> {
    from_secs(what, secs, secs, "seconds")
}

/// A duration given as floating-point milliseconds (JavaScript's convention), with the rules
/// of [`duration_from_secs_f64`].
pub fn duration_from_millis_f64(what: &str, millis: f64) -> Result<Duration> {
    from_secs(what, millis / 1000.0, millis, "milliseconds")
}

/// A 64-bit id given as a floating-point number: it must be an integer in
/// `0 ..= MAX_SAFE_INTEGER` (above that a float no longer names one integer). Anything else
/// (negative, fractional, NaN, infinite, too large) is refused with `InvalidArgument`.
pub fn u64_from_f64(what: &str, v: f64) -> Result<u64> {
    if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && v <= MAX_SAFE_INTEGER as f64 {
        // An integer in range: the cast is exact.
        Ok(v as u64)
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} must be an integer in 0..=2^53-1 when given as a number (a BigInt above that), not {v}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_saturate_and_refuse() {
        assert_eq!(duration_from_secs_f64("t", 1.5).unwrap(), Duration::from_millis(1500));
        assert_eq!(duration_from_secs_f64("t", 0.0).unwrap(), Duration::ZERO);
        assert_eq!(duration_from_secs_f64("t", -0.0).unwrap(), Duration::ZERO);
        for huge in [1e19, 1e300, f64::MAX, f64::INFINITY, MAX_DURATION.as_secs_f64()] {
            assert_eq!(duration_from_secs_f64("t", huge).unwrap(), MAX_DURATION);
        }
        for bad in [-1.0, -1e-300, f64::NAN, f64::NEG_INFINITY] {
            let e = duration_from_secs_f64("call_timeout", bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e.to_string().contains("call_timeout"), "{e}");
        }
        assert_eq!(duration_from_millis_f64("t", 1e300).unwrap(), MAX_DURATION);
        assert_eq!(duration_from_millis_f64("t", 2.0).unwrap(), Duration::from_millis(2));
        assert_eq!(duration_from_millis_f64("t", 5e-324).unwrap(), Duration::ZERO);
        assert!(duration_from_millis_f64("timeoutMs", f64::NAN).unwrap_err().to_string().contains("milliseconds"));
        assert_eq!(duration_from_micros(u64::MAX), MAX_DURATION);
        assert_eq!(duration_from_micros(7), Duration::from_micros(7));
        // What the driver does with the longest one cannot overflow.
        let _ = std::time::Instant::now() + MAX_DURATION + MAX_DURATION;
    }

    #[test]
    fn floats_as_ids() {
        assert_eq!(u64_from_f64("x", 0.0).unwrap(), 0);
        assert_eq!(u64_from_f64("x", -0.0).unwrap(), 0);
        assert_eq!(u64_from_f64("x", 9_007_199_254_740_991.0).unwrap(), MAX_SAFE_INTEGER);
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 9_007_199_254_740_992.0, 1e300] {
            assert_eq!(u64_from_f64("slot", bad).unwrap_err().code(), "INVALID_ARGUMENT", "{bad}");
        }
    }
}
