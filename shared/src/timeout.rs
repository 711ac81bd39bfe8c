//! The one grammar of every duration on a command line (`--timeout`,
//! `--ready-timeout`, wait-for's `#timeout=`), so what one tool accepts the
//! others do too.

use std::time::Duration;

/// Seconds, or a number with a unit: `90`, `2.5`, `500ms`, `90s`, `15m`, `1h`.
/// No sign, no exponent: `0` is the shortest.
pub fn parse(text: &str) -> Result<Duration, String> {
    let usage = || {
        format!(
            "{text:?} is not a duration: seconds, or a number with ms, s, m or h (e.g. 90, 2.5, 500ms, 15m, 1h)"
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| usage())?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(usage()),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|_| usage())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_or_without_a_unit() {
        assert_eq!(parse("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("0.25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse(".5"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn anything_else_is_refused_with_the_grammar() {
        for bad in ["", "-1", "soon", "1d", "1e3", "inf", ".", "1.2.3", "5 s"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("1d").unwrap_err(),
            "\"1d\" is not a duration: seconds, or a number with ms, s, m or h (e.g. 90, 2.5, 500ms, 15m, 1h)"
        );
    }
}
