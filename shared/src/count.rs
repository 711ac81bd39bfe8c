//! Sums of numbers read from inputs, checked by construction.
//!
//! Every count, hit count and time a report declares is input, and any of
//! them can be the largest number its type holds: two JUnit files that each
//! say `tests="9223372036854775807"`, two LCOV files that each ran a line
//! 2^63 times, times of 1e19 seconds. A sum that wraps is a wrong number
//! that passes; one that panics is a crash. Sums of input go through
//! [`add`] (or [`Total::plus`]), which turns overflow into an [`Overflow`]
//! error for the reader to place at the file and position it came from.

use std::fmt;
use std::time::Duration;

/// A sum went past the largest number its type holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    /// The largest number there is, as a reader would write it.
    pub limit: String,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "numbers add up past {}, the most this tool counts to",
            self.limit
        )
    }
}

impl std::error::Error for Overflow {}

/// A number that input adds up: its sum is checked.
pub trait Total: Copy {
    /// `self + other`, or [`Overflow`].
    fn plus(self, other: Self) -> Result<Self, Overflow>;
}

macro_rules! total_of_integer {
    ($($int:ty),*) => {$(
        impl Total for $int {
            fn plus(self, other: $int) -> Result<$int, Overflow> {
                self.checked_add(other).ok_or_else(|| Overflow {
                    limit: <$int>::MAX.to_string(),
                })
            }
        }
    )*};
}

total_of_integer!(u32, u64, usize);

impl Total for Duration {
    fn plus(self, other: Duration) -> Result<Duration, Overflow> {
        self.checked_add(other).ok_or_else(|| Overflow {
            limit: format!("{} seconds", Duration::MAX.as_secs()),
        })
    }
}

/// Add `other` to `into`; on overflow `into` is left as it was.
pub fn add<T: Total>(into: &mut T, other: T) -> Result<(), Overflow> {
    *into = into.plus(other)?;
    Ok(())
}

/// The sum of `items`, or [`Overflow`].
pub fn sum<T: Total + Default>(items: impl IntoIterator<Item = T>) -> Result<T, Overflow> {
    items.into_iter().try_fold(T::default(), T::plus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_in_range_are_exact() {
        let mut tests = u64::MAX - 1;
        add(&mut tests, 1).unwrap();
        assert_eq!(tests, u64::MAX);
        let mut time = Duration::from_secs(1);
        add(&mut time, Duration::from_millis(500)).unwrap();
        assert_eq!(time, Duration::from_millis(1500));
    }

    #[test]
    fn overflow_is_an_error_and_leaves_the_sum() {
        let mut tests = i64::MAX as u64;
        let error = add(&mut tests, i64::MAX as u64 + 2).unwrap_err();
        assert_eq!(tests, i64::MAX as u64);
        assert_eq!(
            error.to_string(),
            "numbers add up past 18446744073709551615, the most this tool counts to"
        );
        let mut time = Duration::from_secs(u64::MAX);
        assert!(add(&mut time, Duration::from_secs(1)).is_err());
        assert!(add(&mut 4_000_000_000u32, 400_000_000).is_err());
        assert!(sum([u32::MAX, 1]).is_err());
        assert_eq!(sum([1u32, 2, 3]), Ok(6));
    }
}
