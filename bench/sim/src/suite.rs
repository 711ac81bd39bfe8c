//! A generated Django-like suite: node ids laid out as apps, test files,
//! classes and parametrizations, with heavy-tailed durations.
//!
//! The shape comes from three real `.test_durations` files that pytest-split
//! users commit (read to set the numbers below, not copied):
//!
//! | suite | tests | median s | p90 s | p99 s | max s | tests >= 5 s | their share of time |
//! | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
//! | tilavarauspalvelu-core (Django) | 2,577 | 0.05 | 0.14 | 0.55 | 45.6 | 0.12 % | 25 % |
//! | hypha (Django) | 1,774 | 0.10 | 0.30 | 0.88 | 41.6 | 0.68 % | 67 % |
//! | onegov-cloud (PostgreSQL, browser tests) | 3,592 | 1.01 | 2.77 | 11.6 | 77.6 | 2.8 % | 26 % |
//! | generated, [`Model::DJANGO`], seed 1 | 5,000 | 0.07 | 0.32 | 4.7 | 143 | 0.94 % | 60 % |
//!
//! Most tests take a few hundredths of a second, a few percent take between
//! half a second and five, about one in a hundred takes five seconds to a
//! minute (data imports, admin pages crawled, browser tests; in hypha the
//! first test of each worker, which pays for the test database), and one or
//! two take longer than anything else. [`Model::DJANGO`] sits between the
//! three: the tail is where a static plan loses balance, so it must be there.

use crate::random::Random;

/// The parameters of a generated suite.
#[derive(Debug, Clone)]
pub struct Model {
    pub tests: usize,
    /// The median tests per file (the real suites: 7, 9 and 20 on average).
    pub tests_per_file: f64,
    /// The share of files whose tests live in classes (Django `TestCase`s:
    /// hypha nearly all, tilavarauspalvelu none).
    pub class_files: f64,
    /// The share of test functions that are parametrized, with 2 to
    /// `max_params` cases each: about a fifth of the tests generated are
    /// parametrizations (3 %, 12 % and 28 % of the real suites' tests).
    pub parametrized: f64,
    pub max_params: usize,
    /// Ordinary tests: log-normal, this median and sigma of the logarithm
    /// (the real Django suites: medians 0.05 and 0.10 s, sigma 1.5 and 2.1
    /// including their tails), times a factor per file (a file of view tests
    /// is slower than a file of form tests) of this sigma.
    pub median: f64,
    pub sigma: f64,
    pub file_sigma: f64,
    /// Heavier functions: this share, log-uniform in the range.
    pub heavy: Tier,
    /// Slow functions: imports, crawls, browser tests.
    pub slow: Tier,
    /// Slow tests gather in a few files (onegov-cloud's browser tests: 16 of
    /// its 100 tests of 5 s or more are in one file): this share of files
    /// holds slow functions at `slow_file_share` instead of `slow.share`.
    pub slow_files: f64,
    pub slow_file_share: f64,
    /// How many tests run longer than all others, log-uniform in the range.
    pub very_long: usize,
    pub very_long_range: (f64, f64),
    /// The spread of a parametrized function's cases around the function's
    /// duration (sigma of the logarithm).
    pub param_sigma: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Tier {
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

impl Model {
    /// A 5,000-test Django suite against real PostgreSQL and Redis.
    pub const DJANGO: Model = Model {
        tests: 5000,
        tests_per_file: 7.0,
        class_files: 0.5,
        parametrized: 0.06,
        max_params: 8,
        median: 0.06,
        sigma: 0.9,
        file_sigma: 0.6,
        heavy: Tier {
            share: 0.04,
            low: 0.5,
            high: 5.0,
        },
        slow: Tier {
            share: 0.004,
            low: 5.0,
            high: 60.0,
        },
        slow_files: 0.02,
        slow_file_share: 0.25,
        very_long: 2,
        very_long_range: (60.0, 150.0),
        param_sigma: 0.25,
    };

    /// [`Model::DJANGO`] with `tests` tests, the same shape at any size: the
    /// tests longer than all others stay as common (2 in 5,000), so a
    /// 50,000-test suite has 20 of them, as ten 5,000-test suites would.
    pub fn django(tests: usize) -> Model {
        let base = Model::DJANGO;
        Model {
            tests,
            very_long: (base.very_long * tests).div_ceil(base.tests),
            ..base
        }
    }
}

/// Test ids in collection order, with their durations in seconds.
#[derive(Debug, Clone)]
pub struct Suite {
    pub ids: Vec<String>,
    pub seconds: Vec<f64>,
}

const APPS: &[&str] = &[
    "accounts",
    "api",
    "audit",
    "billing",
    "catalog",
    "checkout",
    "cms",
    "coupons",
    "exports",
    "imports",
    "inventory",
    "invoices",
    "messaging",
    "notifications",
    "orders",
    "payments",
    "permissions",
    "reports",
    "reviews",
    "scheduling",
    "search",
    "shipping",
    "users",
    "webhooks",
];

const TOPICS: &[&str] = &[
    "models",
    "views",
    "forms",
    "api",
    "serializers",
    "tasks",
    "admin",
    "signals",
    "permissions",
    "querysets",
    "utils",
    "commands",
    "filters",
    "emails",
    "migrations",
    "templatetags",
];

const VERBS: &[&str] = &[
    "create", "update", "delete", "list", "get", "filter", "export", "import", "send", "cancel",
    "refund", "validate", "render", "search", "sync", "archive",
];

const NOUNS: &[&str] = &[
    "order", "user", "invoice", "product", "payment", "coupon", "report", "message", "webhook",
    "address", "cart", "token", "group", "page", "shipment", "review",
];

const PARAMS: &[&[&str]] = &[
    &["admin", "staff", "customer", "anonymous"],
    &["csv", "json", "xlsx", "xml"],
    &["True", "False"],
    &["en", "de", "fi", "sv", "fr"],
    &["0", "1", "2", "3", "4", "5", "6", "7"],
    &["draft", "open", "paid", "shipped", "cancelled", "refunded"],
];

/// Capitalised, for class names.
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Suite {
    /// The suite `model` describes, the same for the same `seed`.
    pub fn generate(model: &Model, seed: u64) -> Suite {
        let mut random = Random::new(seed);
        let mut suite = Suite {
            ids: Vec::with_capacity(model.tests),
            seconds: Vec::with_capacity(model.tests),
        };
        let mut file_number = 0;
        while suite.ids.len() < model.tests {
            let app = APPS[file_number % APPS.len()];
            let nth = file_number / APPS.len();
            let topic = TOPICS[nth % TOPICS.len()];
            // Past one file per topic, apps grow subfolders.
            let path = match nth / TOPICS.len() {
                0 => format!("{app}/tests/test_{topic}.py"),
                n => format!("{app}/tests/part{n}/test_{topic}.py"),
            };
            file_number += 1;
            let file_factor = random.log_normal(1.0, model.file_sigma);
            let slow_share = if random.unit() < model.slow_files {
                model.slow_file_share
            } else {
                model.slow.share
            };
            let tests = random
                .log_normal(model.tests_per_file, 0.7)
                .round()
                .max(1.0) as usize;
            let classes = if random.unit() < model.class_files {
                1 + random.below(4)
            } else {
                0
            };
            let mut names = std::collections::HashSet::new();
            let mut made = 0;
            for function in 0.. {
                if made >= tests || suite.ids.len() >= model.tests {
                    break;
                }
                let scope = match classes {
                    0 => path.clone(),
                    n => {
                        let noun = NOUNS[(file_number + function % n) % NOUNS.len()];
                        format!("{path}::Test{}{}", title(noun), title(topic))
                    }
                };
                let verb = VERBS[random.below(VERBS.len())];
                let noun = NOUNS[random.below(NOUNS.len())];
                let mut name = format!("{scope}::test_{verb}_{noun}");
                let mut again = 2;
                while !names.insert(name.clone()) {
                    name = format!("{scope}::test_{verb}_{noun}_{again}");
                    again += 1;
                }
                let base = function_seconds(model, &mut random, file_factor, slow_share);
                if random.unit() < model.parametrized {
                    let values = PARAMS[random.below(PARAMS.len())];
                    let cases = (2 + random.below(model.max_params - 1)).min(values.len());
                    for value in &values[..cases] {
                        suite.ids.push(format!("{name}[{value}]"));
                        suite
                            .seconds
                            .push(base * random.log_normal(1.0, model.param_sigma));
                        made += 1;
                    }
                } else {
                    suite.ids.push(name);
                    suite.seconds.push(base);
                    made += 1;
                }
            }
        }
        suite.ids.truncate(model.tests);
        suite.seconds.truncate(model.tests);
        for _ in 0..model.very_long.min(model.tests) {
            let (low, high) = model.very_long_range;
            let test = random.below(model.tests);
            suite.seconds[test] = random.log_uniform(low, high);
        }
        // Durations as a JSON file would carry them: microseconds.
        for seconds in &mut suite.seconds {
            *seconds = (*seconds * 1e6).round() / 1e6;
        }
        suite
    }
}

/// One test function's duration: its tier, then where in the tier.
fn function_seconds(model: &Model, random: &mut Random, file_factor: f64, slow_share: f64) -> f64 {
    let draw = random.unit();
    if draw < slow_share {
        random.log_uniform(model.slow.low, model.slow.high)
    } else if draw < slow_share + model.heavy.share {
        random.log_uniform(model.heavy.low, model.heavy.high)
    } else {
        random.log_normal(model.median, model.sigma) * file_factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_suite_of_unique_ids() {
        let a = Suite::generate(&Model::DJANGO, 3);
        let b = Suite::generate(&Model::DJANGO, 3);
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.seconds, b.seconds);
        assert_eq!(a.ids.len(), 5000);
        let unique: std::collections::HashSet<_> = a.ids.iter().collect();
        assert_eq!(unique.len(), 5000);
        assert_ne!(a.seconds, Suite::generate(&Model::DJANGO, 4).seconds);
    }

    #[test]
    fn durations_have_the_real_suites_shape() {
        let suite = Suite::generate(&Model::DJANGO, 1);
        let mut sorted = suite.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |share: f64| sorted[(share * sorted.len() as f64) as usize];
        assert!((0.03..0.15).contains(&at(0.5)), "median {}", at(0.5));
        assert!(*sorted.last().unwrap() >= 60.0);
        let slow = sorted.iter().filter(|&&s| s >= 5.0).count();
        assert!((20..=80).contains(&slow), "{slow} tests of 5 s or more");
    }

    /// Quantiles and the slow tail, for comparing suites of two sizes.
    fn shape(suite: &Suite) -> (f64, f64, f64) {
        let mut sorted = suite.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let total: f64 = sorted.iter().sum();
        let slow: f64 = sorted.iter().filter(|&&s| s >= 5.0).sum();
        let median = sorted[sorted.len() / 2];
        let p90 = sorted[sorted.len() * 9 / 10];
        (median, p90, slow / total)
    }

    #[test]
    fn fifty_thousand_tests_have_the_shape_of_five_thousand() {
        assert_eq!(Model::django(5000).very_long, Model::DJANGO.very_long);
        let model = Model::django(50_000);
        assert_eq!(model.very_long, 20);
        let big = Suite::generate(&model, 1);
        assert_eq!(big.ids.len(), 50_000);
        let unique: std::collections::HashSet<_> = big.ids.iter().collect();
        assert_eq!(unique.len(), 50_000);
        // Ten 5,000-test suites against one of 50,000: the same quantiles
        // and about the same share of time in slow tests.
        let small: Vec<f64> = (1..=10)
            .flat_map(|seed| Suite::generate(&Model::DJANGO, seed).seconds)
            .collect();
        let small = Suite {
            ids: Vec::new(),
            seconds: small,
        };
        let (big, small) = (shape(&big), shape(&small));
        assert!(
            (big.0 / small.0 - 1.0).abs() < 0.05,
            "medians {big:?} {small:?}"
        );
        assert!(
            (big.1 / small.1 - 1.0).abs() < 0.05,
            "p90 {big:?} {small:?}"
        );
        assert!(
            (big.2 - small.2).abs() < 0.1,
            "slow share {big:?} {small:?}"
        );
        // The very long tests: 60 s or more, 20 of them, give or take a
        // slow function's parametrizations that reach past 60 s.
        let very_long = Suite::generate(&model, 1)
            .seconds
            .iter()
            .filter(|&&s| s >= 60.0)
            .count();
        assert!(
            (15..=30).contains(&very_long),
            "{very_long} tests of 60 s or more"
        );
    }
}
